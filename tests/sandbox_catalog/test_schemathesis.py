"""Schemathesis (v4) drives the sandbox from the copied spec.

Uses schemathesis's pytest integration (`openapi.from_path` + `schema.parametrize()`),
which needs no CLI subprocess and runs in-process against a sandbox served from a
thread. Checks: no 5xx, documented status codes, documented content types, response
bodies valid against the spec, and invalid input rejected. `positive_data_acceptance` is
left out on purpose: the spec sets no bounds on `offset`/`limit`, while the sandbox (like
the real service) answers 422 to a negative offset or a limit below 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from fixtures_catalog import SPEC_PATH
from modelsync_sandbox.catalog_server import CatalogSandbox

schema = schemathesis.openapi.from_path(SPEC_PATH)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    deterministic=True,
    with_security_parameters=False,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CatalogSandbox]:
    with CatalogSandbox.running_in_thread() as running:
        yield running


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_sandbox_conforms_to_the_spec(case: Any, sandbox: CatalogSandbox) -> None:
    response = case.call_and_validate(
        base_url=sandbox.url,
        headers={"Authorization": f"Bearer {sandbox.token}"},
        checks=CHECKS,
        timeout=10,
    )
    assert response.status_code != 401, "every generated case is authenticated"
