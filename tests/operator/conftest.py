"""Fixtures of the operator tests; the harness itself lives in e2e_harness.py."""

from e2e_harness import crd_sandbox, e2e, sandbox_only, scenario

__all__ = ["crd_sandbox", "e2e", "sandbox_only", "scenario"]
