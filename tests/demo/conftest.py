"""The operator end-to-end harness (tests/operator/e2e_harness.py), for the render-vs-operator
comparison. It lives next to the operator tests, which are not a package: put their folder
on sys.path so `import e2e_harness` finds the same module they use."""

from __future__ import annotations

import sys
from pathlib import Path

_HARNESS_DIR = str(Path(__file__).resolve().parents[1] / "operator")
if _HARNESS_DIR not in sys.path:
    sys.path.append(_HARNESS_DIR)

from e2e_harness import e2e, e2e_server, pytest_generate_tests, scenario  # noqa: E402

__all__ = ["e2e", "e2e_server", "pytest_generate_tests", "scenario"]
