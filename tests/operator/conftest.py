"""Fixtures of the operator tests; they live in e2e_harness.py and runner_world.py.

Every test that uses the `e2e` fixture (directly or through `scenario`) runs twice: on the
sandbox API server and on the real control plane (`[sandbox]` and `[real]` in its id).
A test that cannot run on one of the two says why, with
`@pytest.mark.sandbox_only(reason=...)` or `@pytest.mark.real_only(reason=...)`.
"""

from e2e_harness import crd_sandbox, e2e, e2e_server, pytest_generate_tests, scenario, write_log
from runner_world import api, catalog, world

__all__ = [
    "api",
    "catalog",
    "crd_sandbox",
    "e2e",
    "e2e_server",
    "pytest_generate_tests",
    "scenario",
    "world",
    "write_log",
]
