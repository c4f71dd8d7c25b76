"""`Status` error bodies, shaped as kube-apiserver writes them.

Message formats follow k8s.io/apimachinery/pkg/api/errors (NewNotFound,
NewAlreadyExists, NewConflict, NewInvalid, ...), because clients (kubectl,
Kopf, the Python client) show or match on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

JsonObject = dict[str, Any]


class CauseLike(Protocol):
    """What `validation.Cause` offers; kept structural so this module stands alone."""

    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...

    def to_dict(self) -> dict[str, str]: ...


def status_body(
    code: int, reason: str, message: str, details: JsonObject | None = None
) -> JsonObject:
    body: JsonObject = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if reason:  # an error the API server did not classify has none
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """An error the API answers with a `Status` body and the given HTTP code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JsonObject | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> JsonObject:
        return status_body(self.code, self.reason, self.message, self.details)


def qualified_resource(group: str, plural: str) -> str:
    """`configmaps` or `widgets.example.dev`: how errors name a resource."""
    return f"{plural}.{group}" if group else plural


def qualified_kind(group: str, kind: str) -> str:
    """`ConfigMap` or `Widget.example.dev`: how Invalid errors name a kind."""
    return f"{kind}.{group}" if group else kind


def _resource_details(group: str, plural: str, name: str) -> JsonObject:
    details: JsonObject = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = plural
    return details


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{qualified_resource(group, plural)} "{name}" not found',
        _resource_details(group, plural, name),
    )


def route_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified_resource(group, plural)} "{name}" already exists',
        _resource_details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(group, plural)} "{name}": {why}',
        _resource_details(group, plural, name),
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def stale(group: str, plural: str, name: str) -> ApiError:
    return conflict(group, plural, name, STALE_OBJECT)


def invalid(group: str, kind: str, name: str, causes: Sequence[CauseLike]) -> ApiError:
    """errors.NewInvalid. Every cause is listed, repeats included (an update validates
    metadata several times over); the message names each distinct one once."""
    parts = list(dict.fromkeys(f"{c.field}: {c.message}" if c.field else c.message for c in causes))
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: JsonObject = {"name": name} if name else {}
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = [c.to_dict() for c in causes]
    return ApiError(
        422,
        "Invalid",
        f'{qualified_kind(group, kind)} "{name}" is invalid: {summary}',
        details,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(
    group: str, plural: str, name: str, why: str, causes: Sequence[CauseLike] = ()
) -> ApiError:
    target = (
        f'{qualified_resource(group, plural)} "{name}"'
        if name
        else qualified_resource(group, plural)
    )
    details = _resource_details(group, plural, name)
    if causes:
        details["causes"] = [c.to_dict() for c in causes]
    return ApiError(403, "Forbidden", f"{target} is forbidden: {why}", details)


def method_not_allowed(message: str = "") -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        message or "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(accepted: Sequence[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )


def not_acceptable(accepted: Sequence[str]) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: {', '.join(accepted)}",
        {},
    )


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)


def unclassified(code: int, message: str) -> ApiError:
    """A storage error passed through as is: a Status with no reason and no details."""
    return ApiError(code, "", message)


def precondition_failed(group: str, kind: str, name: str, why: str) -> ApiError:
    """A failed delete precondition (storage.NewInvalidObjError): the kind names the object."""
    details: JsonObject = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_kind(group, kind)} "{name}": {why}',
        details,
    )
