"""Fixtures of the operator tests; they live in e2e_harness.py and runner_world.py."""

from e2e_harness import crd_sandbox, e2e, sandbox_only, scenario
from runner_world import api, catalog, world

__all__ = ["api", "catalog", "crd_sandbox", "e2e", "sandbox_only", "scenario", "world"]
