"""Property tests: every payload the vendor's own schemas admit parses with our models.

Payloads come from catalog/spec_payloads.py (the vendor's JSON Schemas, via schemathesis).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from catalog.spec_payloads import manifest_property, payloads
from catalog.spec_schemas import load_spec
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
