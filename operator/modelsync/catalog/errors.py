"""Typed catalog errors. `reason` is the CamelCase condition reason the operator reports.

Messages name the method and the URL (`GET scheme://host:port/path?query`), say what failed
and, where there is one, the fix, on one line; they never hold a token or a header value.
"""

from __future__ import annotations

from typing import ClassVar

from modelsync.catalog.models import ValidationErrorDetail

__all__ = [
    "CatalogError",
    "DestinationRefused",
    "Forbidden",
    "InvalidResponse",
    "InvalidToken",
    "NotFound",
    "RateLimited",
    "RequestInvalid",
    "ResponseTooLarge",
    "ServerError",
    "TransportFailure",
    "Unauthorized",
    "UnexpectedStatus",
    "VersionsEndpointUnsupported",
]


class CatalogError(Exception):
    """Base of every catalog failure.

    `retry_after` is the server's `Retry-After` in seconds when it sent one (429/503), so the
    caller can honour it when it schedules the next sync.
    """

    default_reason: ClassVar[str] = "CatalogUnavailable"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.reason = reason if reason is not None else self.default_reason

    def __str__(self) -> str:
        return self.message


class Unauthorized(CatalogError):
    """401: no token, or the catalog rejected it."""

    default_reason = "Unauthorized"


class Forbidden(CatalogError):
    """403: the token is valid but may not list models."""

    default_reason = "Unauthorized"


class NotFound(CatalogError):
    """404 on the models endpoint: usually a wrong URL or apiPath."""

    default_reason = "CatalogUnavailable"


class VersionsEndpointUnsupported(NotFound):
    """404 on `/model-versions`: this catalog does not offer the endpoint."""

    default_reason = "VersionsEndpointUnsupported"


class RequestInvalid(CatalogError):
    """422: the catalog rejected the query parameters; `detail` is the parsed body."""

    default_reason = "InvalidRequest"

    def __init__(
        self,
        message: str,
        *,
        detail: tuple[ValidationErrorDetail, ...] = (),
        status_code: int | None = 422,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.detail = list(detail)


class ServerError(CatalogError):
    """5xx after the retries ran out."""


class RateLimited(CatalogError):
    """429 after the retries ran out."""


class TransportFailure(CatalogError):
    """Connection refused/reset, DNS, TLS, or no complete response within the deadline.
    Certificate and TLS protocol failures are raised at once, the others after the retries."""


class InvalidResponse(CatalogError):
    """A 2xx whose body is not JSON or not the spec's shape, or paging that never ends."""

    default_reason = "InvalidResponse"


class ResponseTooLarge(InvalidResponse):
    """A response body passed the byte cap (counted after decompression); never retried."""

    default_reason = "ResponseTooLarge"


class DestinationRefused(CatalogError):
    """The catalog host resolved to an address the operator may not connect to (loopback,
    link-local, private, ...) and the host is not explicitly allowed; never retried."""

    default_reason = "CatalogNotAllowed"


class InvalidToken(CatalogError, ValueError):
    """The token cannot be sent as a header value; the message never contains the token."""

    default_reason = "InvalidToken"


class UnexpectedStatus(CatalogError):
    """A status the API does not document (3xx, other 4xx, 1xx)."""

    def __init__(self, message: str, *, status_code: int) -> None:
        reason = "InvalidRequest" if 400 <= status_code < 500 else "InvalidResponse"
        super().__init__(message, status_code=status_code, reason=reason)
