"""Query-parameter parsing for the sandbox catalog, with FastAPI-style 422 errors.

Pydantic does the parsing, as it does behind the real (FastAPI) service, so
`limit=abc` yields the same `int_parsing` error and message. Choices beyond
the spec: `offset` must be >= 0 and `limit` >= 1 (no upper bound); a
parameter given twice takes its last value; unknown parameters are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelsync_sandbox.catalog_query import JsonObject, ModelFilter, VersionFilter


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=1)


class ListModelsQuery(_Query):
    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    run_id: str | None = None
    include_empty_models: bool = True

    def to_filter(self) -> ModelFilter:
        return ModelFilter(
            fqn=self.fqn,
            ml_repo_id=self.ml_repo_id,
            name=self.name,
            run_id=self.run_id,
            include_empty_models=self.include_empty_models,
        )


class ListVersionsQuery(_Query):
    model_id: str | None = None
    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    version: int | None = None
    tag: str | None = None

    def to_filter(self) -> VersionFilter:
        return VersionFilter(
            model_id=self.model_id,
            fqn=self.fqn,
            ml_repo_id=self.ml_repo_id,
            name=self.name,
            version=self.version,
            tag=self.tag,
        )


class QueryError(Exception):
    """Bad query parameters; `body` is an HTTPValidationError object."""

    def __init__(self, body: JsonObject) -> None:
        super().__init__("invalid query parameters")
        self.body = body


_Q = TypeVar("_Q", bound=_Query)


def parse_query(model: type[_Q], query: Mapping[str, str]) -> _Q:
    """Validate query parameters (last value wins) or raise `QueryError`."""
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise QueryError(validation_error_body(exc)) from None


def validation_error_body(exc: ValidationError) -> JsonObject:
    """HTTPValidationError: `{"detail": [{"loc": ["query", ...], "msg", "type"}]}`."""
    detail: list[dict[str, Any]] = [
        {"loc": ["query", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False)
    ]
    return {"detail": detail}


def injected_validation_error() -> JsonObject:
    """A spec-shaped 422 body for an injected 422 fault."""
    return {"detail": [{"loc": ["query"], "msg": "injected fault", "type": "value_error"}]}
