"""Pytest plugin: the sandbox catalog as fixtures, and validators built from the copied spec.

Fixtures:
- `catalog_server`: a started `CatalogSandbox` on the shipped fixtures (async, function scope);
- `catalog_server_thread`: the same, served from a background thread, for synchronous tests;
- `catalog_fixture_data`: the shipped fixture file as a dict (a fresh copy per test).

`spec_validator(name)` returns a jsonschema validator for one of the spec's component
schemas (resolved inside tests/data/list-models.openapi.yaml, never re-typed by hand).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from modelsync_sandbox.catalog_server import CatalogSandbox
from modelsync_sandbox.catalog_store import load_fixture_data

SPEC_PATH = Path(__file__).parent / "data" / "list-models.openapi.yaml"
_SPEC_URI = "urn:modelsync:list-models-openapi"


@functools.cache
def catalog_spec() -> dict[str, Any]:
    """The copied OpenAPI document."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def schema_ref(name: str) -> dict[str, str]:
    """A `$ref` to `#/components/schemas/{name}` in the copied spec."""
    return {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"}


def spec_validator(schema: str | dict[str, Any]) -> Draft202012Validator:
    """Validator for a component schema by name, or for a schema that `$ref`s into the spec.

    OpenAPI 3.1 schema objects are JSON Schema 2020-12 (the `discriminator` and
    `nullable` keywords are annotations there; `oneOf` does the checking).
    """
    if isinstance(schema, str):
        schema = schema_ref(schema)
    return Draft202012Validator(schema, registry=_registry())


def list_versions_response_schema() -> dict[str, Any]:
    """`{data: [ModelVersion], pagination: Pagination}`: the model-versions endpoint is not in
    the copied spec, so its envelope mirrors ListModelsResponse with the spec's own parts."""
    return {
        "type": "object",
        "required": ["data", "pagination"],
        "properties": {
            "data": {"type": "array", "items": schema_ref("ModelVersion")},
            "pagination": schema_ref("Pagination"),
        },
    }


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(catalog_spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


@pytest_asyncio.fixture
async def catalog_server() -> AsyncIterator[CatalogSandbox]:
    async with CatalogSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def catalog_server_thread() -> Iterator[CatalogSandbox]:
    with CatalogSandbox.running_in_thread() as sandbox:
        yield sandbox


@pytest.fixture
def catalog_fixture_data() -> dict[str, Any]:
    return load_fixture_data(None)
