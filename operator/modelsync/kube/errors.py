"""Typed Kubernetes API failures, built from the API's Status body.

Messages carry the verb, the object and the server's own message; never a request body, a
header, or (for Secrets) any data.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "KubeApiError",
    "KubeConfigError",
    "KubeConflict",
    "KubeForbidden",
    "KubeInvalid",
    "KubeNotFound",
    "KubeUnavailable",
    "KubeWriteFenced",
    "error_from_status",
]


class KubeConfigError(Exception):
    """No usable kubeconfig or in-cluster service account."""


class KubeApiError(Exception):
    """A Kubernetes API request failed; `status` is the HTTP status (None: no response)."""

    def __init__(self, message: str, *, status: int | None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class KubeNotFound(KubeApiError):
    """404."""


class KubeConflict(KubeApiError):
    """409: AlreadyExists, a failed precondition or a stale resourceVersion."""


class KubeInvalid(KubeApiError):
    """422 (and 400): the object failed validation."""


class KubeForbidden(KubeApiError):
    """401/403: RBAC or credentials."""


class KubeUnavailable(KubeApiError):
    """5xx, 429 or no HTTP response at all."""


class KubeWriteFenced(KubeApiError):
    """A write that was never sent: this process may not write now (a replica that is not
    the leader)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, reason="NotLeader")


def _status_message(body: object) -> tuple[str | None, str | None]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return None, None
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(parsed, dict):
        return None, None
    message = parsed.get("message")
    reason = parsed.get("reason")
    return (
        message if isinstance(message, str) else None,
        reason if isinstance(reason, str) else None,
    )


def error_from_status(action: str, status: int | None, body: object) -> KubeApiError:
    """Map an HTTP status + Status body to the typed error; `action` names verb and object."""
    server_message, reason = _status_message(body)
    detail = server_message or (f"HTTP {status}" if status is not None else "no response")
    message = f"{action}: {detail}"
    if status == 404:
        return KubeNotFound(message, status=status, reason=reason)
    if status == 409:
        return KubeConflict(message, status=status, reason=reason)
    if status in (400, 422):
        return KubeInvalid(message, status=status, reason=reason)
    if status in (401, 403):
        return KubeForbidden(message, status=status, reason=reason)
    if status is None or status == 429 or status >= 500:
        return KubeUnavailable(message, status=status, reason=reason)
    return KubeApiError(message, status=status, reason=reason)
