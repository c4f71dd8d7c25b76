"""Base class for the CRD models: snake_case in Python, camelCase on the wire."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)
from pydantic.alias_generators import to_camel

from modelsync.api.timestamps import format_time_precise, is_rfc3339

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def is_empty(value: object) -> bool:
    """For `Field(exclude_if=is_empty)`: an empty list, dict or model is left out of to_k8s."""
    if isinstance(value, BaseModel):
        return not value.model_dump(exclude_none=True)
    return value is None or value == [] or value == {}


class WireModel(BaseModel):
    """Serializes like a Go API type with `omitempty`: None fields are left out, and so are
    empty collections declared with `exclude_if=is_empty` (contents of free-form dicts are kept)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    def to_k8s(self) -> dict[str, Any]:
        """JSON-ready dict in the API server's field names, empty optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_k8s_patch(self) -> dict[str, Any]:
        """Like to_k8s, plus `null` for each empty top-level field: a JSON merge patch (Kopf's
        `patch.status`) that also clears fields this model no longer has."""
        body = self.to_k8s()
        for name, field in type(self).model_fields.items():
            body.setdefault(field.alias or name, None)
        return body

    @classmethod
    def from_k8s(cls, data: Mapping[str, Any]) -> Self:
        """Parse from the API server's JSON; raises pydantic.ValidationError."""
        return cls.model_validate(data)


def _timestamp_text(value: object) -> object:
    if isinstance(value, datetime):
        return format_time_precise(value)
    return value


def _check_rfc3339(value: str) -> str:
    if not is_rfc3339(value):
        raise ValueError("must be an RFC 3339 date-time such as 2024-05-01T10:00:00Z")
    return value


# A timestamp kept as the exact text written to the API server; datetimes are formatted
# as RFC 3339 UTC so equal instants always give equal text.
TimestampText = Annotated[str, BeforeValidator(_timestamp_text)]
# The same for fields the CRD declares `format: date-time`: other text is rejected here,
# before the API server would reject it.
RFC3339Text = Annotated[str, BeforeValidator(_timestamp_text), AfterValidator(_check_rfc3339)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
