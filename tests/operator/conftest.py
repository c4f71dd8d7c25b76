"""Fixtures of the operator tests; they live in e2e_harness.py and runner_world.py.

Every test that uses the `e2e` fixture (directly or through `scenario`) runs twice: on the
sandbox API server and on the real control plane (`[sandbox]` and `[real]` in its id).
A test that cannot run on one of the two says why, with
`@pytest.mark.sandbox_only(reason=...)` or `@pytest.mark.real_only(reason=...)`.
"""

import pytest
from e2e_harness import crd_sandbox, e2e, e2e_server, scenario, write_log
from runner_world import api, catalog, world

from fixtures_real_cluster import XDIST_GROUP

__all__ = ["api", "catalog", "crd_sandbox", "e2e", "e2e_server", "scenario", "world", "write_log"]

REAL = pytest.param(
    "real", marks=[pytest.mark.real_cluster, pytest.mark.xdist_group(XDIST_GROUP)], id="real"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "e2e_server" not in metafunc.fixturenames:
        return
    servers: list[object] = ["sandbox", REAL]
    for marker, only in (("sandbox_only", ["sandbox"]), ("real_only", [REAL])):
        found = metafunc.definition.get_closest_marker(marker)
        if found is None:
            continue
        if not found.kwargs.get("reason"):
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {marker} needs a reason=")
        servers = list(only)
    metafunc.parametrize("e2e_server", servers, indirect=True, scope="session")
