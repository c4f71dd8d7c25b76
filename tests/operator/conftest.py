"""Fixtures of the operator tests: runner_world.py's here; e2e_harness.py's (e2e, scenario,
write_log, crd_sandbox) are a plugin of tests/conftest.py.

Every test that uses the `e2e` fixture (directly or through `scenario`) runs twice: on the
sandbox API server and on the real control plane (`[sandbox]` and `[real]` in its id).
A test that cannot run on one of the two says why, with
`@pytest.mark.sandbox_only(reason=...)` or `@pytest.mark.real_only(reason=...)`.
"""

from runner_world import api, catalog, world

__all__ = ["api", "catalog", "world"]
