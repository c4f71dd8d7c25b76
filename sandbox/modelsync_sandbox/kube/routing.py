"""Resource URL paths -> what they address (type, namespace, name, subresource)."""

from __future__ import annotations

from dataclasses import dataclass

from modelsync_sandbox.kube import errors
from modelsync_sandbox.kube.resources import Registry, ResourceType


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None  # None: cluster-scoped type, or all namespaces
    name: str  # "" for the collection
    subresource: str  # "" for the resource itself

    @property
    def label(self) -> str:
        """How stats name the resource: `widgets` or `widgets/status`."""
        return f"{self.rt.plural}/{self.subresource}" if self.subresource else self.rt.plural


def split_api_path(path: str) -> tuple[str, str, list[str]] | None:
    """`/api/v1/...` or `/apis/{g}/{v}/...` -> (group, version, rest); None otherwise."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 4 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def resolve(registry: Registry, group: str, version: str, rest: list[str]) -> Target:
    if len(rest) >= 3 and rest[0] == "namespaces":
        rt = registry.lookup(group, version, rest[2])
        if rt is not None and rt.namespaced:
            if len(rest) > 5:
                raise errors.route_not_found()
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
            return _checked(Target(rt, rest[1], name, sub))
    rt = registry.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise errors.route_not_found()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if rt.namespaced and name:
        raise errors.route_not_found()
    return _checked(Target(rt, None, name, sub))


def _checked(target: Target) -> Target:
    if target.subresource and target.subresource not in target.rt.subresources:
        raise errors.route_not_found()
    return target
