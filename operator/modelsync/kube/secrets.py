"""Read a token or CA bundle from a Secret in the sync's own namespace.

A Secret is used only when it is opted in: it carries the label
`modelsync.dev/catalog-credentials: "true"`. Without it, anyone who may create a
ModelCatalogSync could have the operator send any Secret of the namespace to a host of their
choice; with it, the Secret's owner decides which Secrets may serve as catalog credentials.

Values never leave this module in any message: errors name the Secret and the key only, and
`SecretValue.__repr__` hides the value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from modelsync.api.constants import CATALOG_CREDENTIALS_VALUE, LABEL_CATALOG_CREDENTIALS
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeNotFound

__all__ = [
    "SecretKeyMissing",
    "SecretNotFound",
    "SecretNotOptedIn",
    "SecretValue",
    "opted_in",
    "read_secret_value",
    "secret_version",
]


class SecretNotFound(Exception):
    """The referenced Secret does not exist (or cannot be read)."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f'Secret "{name}" not found in namespace "{namespace}"')
        self.namespace = namespace
        self.name = name


class SecretKeyMissing(SecretNotFound):
    """The Secret exists but has no such key (or the value is empty or not text)."""

    def __init__(
        self,
        namespace: str,
        name: str,
        key: str,
        problem: str = "has no key",
        *,
        resource_version: str | None = None,
    ) -> None:
        Exception.__init__(self, f'Secret "{name}" in namespace "{namespace}" {problem} "{key}"')
        self.namespace = namespace
        self.name = name
        self.key = key
        self.resource_version = resource_version


class SecretNotOptedIn(Exception):
    """The Secret exists but lacks the opt-in label; its value was not used."""

    def __init__(self, namespace: str, name: str, *, resource_version: str | None) -> None:
        super().__init__(
            f'Secret "{name}" in namespace "{namespace}" is not opted in as catalog '
            f'credentials: add the label {LABEL_CATALOG_CREDENTIALS}="{CATALOG_CREDENTIALS_VALUE}" '
            f"(kubectl label secret {name} -n {namespace} "
            f"{LABEL_CATALOG_CREDENTIALS}={CATALOG_CREDENTIALS_VALUE})"
        )
        self.namespace = namespace
        self.name = name
        self.resource_version = resource_version


def opted_in(labels: object) -> bool:
    """True when a Secret's labels opt it in as catalog credentials."""
    return (
        isinstance(labels, dict)
        and labels.get(LABEL_CATALOG_CREDENTIALS) == CATALOG_CREDENTIALS_VALUE
    )


@dataclass(frozen=True)
class SecretValue:
    """One decoded value plus the Secret's resourceVersion (to notice changes)."""

    value: str = field(repr=False)
    resource_version: str

    def __repr__(self) -> str:
        return f"SecretValue(value=[redacted], resource_version={self.resource_version!r})"


async def _read(api: KubeApi, namespace: str, name: str) -> Any:
    try:
        return await api.call(
            "get",
            "secrets",
            f'get Secret "{name}" in namespace "{namespace}"',
            api.core.read_namespaced_secret,
            name,
            namespace,
        )
    except KubeNotFound:
        raise SecretNotFound(namespace, name) from None


async def read_secret_value(api: KubeApi, namespace: str, name: str, key: str) -> SecretValue:
    """The decoded UTF-8 value of `data[key]` (or `stringData`-written key); typed errors.

    Raises SecretNotOptedIn before looking at any value when the opt-in label is missing.
    """
    secret = await _read(api, namespace, name)
    version = str(secret.metadata.resource_version or "")
    if not opted_in(secret.metadata.labels):
        raise SecretNotOptedIn(namespace, name, resource_version=version)
    data = secret.data or {}
    encoded = data.get(key)
    if encoded is None:
        raise SecretKeyMissing(namespace, name, key, resource_version=version)
    try:
        value = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise SecretKeyMissing(
            namespace, name, key, "has a non-text value under", resource_version=version
        ) from None
    if not value.strip():
        raise SecretKeyMissing(
            namespace, name, key, "has an empty value under", resource_version=version
        )
    return SecretValue(value=value, resource_version=version)


async def secret_version(api: KubeApi, namespace: str, name: str) -> str | None:
    """The Secret's resourceVersion, or None when it does not exist (cheap change check)."""
    try:
        secret = await _read(api, namespace, name)
    except SecretNotFound:
        return None
    return str(secret.metadata.resource_version or "")
