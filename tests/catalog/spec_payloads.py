"""Payloads the vendor's own schemas admit, as Hypothesis strategies.

They come from schemathesis' JSON Schema generator, fed with standalone schemas cut from
tests/data/list-models.openapi.yaml. (hypothesis-jsonschema 0.23.1 cannot generate objects
with the installed Hypothesis: it calls a private `many.more()` that Hypothesis removed.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from catalog.spec_schemas import standalone_schema


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
