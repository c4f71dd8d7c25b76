"""Property tests: every payload the vendor's own schemas admit parses with our models.

Payloads come from schemathesis' JSON Schema generator, fed with standalone schemas cut from
tests/data/list-models.openapi.yaml. (hypothesis-jsonschema 0.23.1 cannot generate objects
with the installed Hypothesis: it calls a private `many.more()` that Hypothesis removed.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from schemathesis.generation.modes import GenerationMode

from catalog.spec_schemas import load_spec, standalone_schema
from modelsync.catalog import (
    Framework,
    HTTPValidationError,
    ListModelsResponse,
    Model,
    ModelVersion,
    Source,
    UnknownFramework,
    UnknownSource,
)
from modelsync.catalog.pages import parse_page

FAST = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _payloads_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Bodies of a throw-away POST operation whose request body is `schema`."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "payload generator", "version": "1"},
        "paths": {
            "/payload": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": schema}},
                    },
                    "responses": {"200": {"description": "unused"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(document)["/payload"]["POST"]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    return cases.map(lambda case: case.body)


@cache
def payloads(name: str) -> st.SearchStrategy[Any]:
    return _payloads_of(standalone_schema(name))


@cache
def manifest_property(prop: str) -> st.SearchStrategy[Any]:
    manifest = standalone_schema("ModelManifest")
    return _payloads_of(manifest["properties"][prop])


@settings(FAST, max_examples=5)  # whole pages are big; ModelVersion gets more
@given(st.data())
def test_generated_list_models_pages_parse_without_skips(data: st.DataObject) -> None:
    payload = data.draw(payloads("ListModelsResponse"))
    page = parse_page(payload, Model)
    assert page.skipped == ()
    assert len(page.items) == len(payload["data"])
    whole = ListModelsResponse.model_validate(payload)
    assert [model.id for model in whole.data] == [item["id"] for item in payload["data"]]


@FAST
@given(st.data())
def test_generated_model_versions_parse(data: st.DataObject) -> None:
    payload = data.draw(payloads("ModelVersion"))
    version = ModelVersion.model_validate(payload)
    assert version.id == payload["id"]
    assert version.manifest.source.type == payload["manifest"]["source"]["type"]
    assert version.deployable is payload.get("deployable", False)


@FAST
@given(st.data())
def test_generated_frameworks_parse_to_a_known_class(data: st.DataObject) -> None:
    payload = data.draw(manifest_property("framework"))
    framework = TypeAdapter[Framework](Framework).validate_python(payload)
    assert not isinstance(framework, UnknownFramework)
    assert framework.type == payload["type"]


@FAST
@given(st.data())
def test_generated_sources_parse_to_a_known_class(data: st.DataObject) -> None:
    payload = data.draw(manifest_property("source"))
    source = TypeAdapter[Source](Source).validate_python(payload)
    assert not isinstance(source, UnknownSource)
    assert source.model_dump(exclude_none=True) == {
        k: v for k, v in payload.items() if k in type(source).model_fields
    }


@FAST
@given(st.data())
def test_generated_validation_errors_parse(data: st.DataObject) -> None:
    payload = data.draw(payloads("HTTPValidationError"))
    parsed = HTTPValidationError.model_validate(payload)
    assert len(parsed.detail) == len(payload.get("detail", []))


def test_generator_input_is_the_spec() -> None:
    # Guard against testing a hand-edited copy: the schemas come from the vendor document.
    assert load_spec()["paths"]["/api/ml/v1/models"]["get"]["operationId"] == (
        "list_models_v1_models_get"
    )
