"""The operator's runtime validation gives the CRD's CEL rules' verdicts (no server needed).

The runtime check stays: the sandbox and API servers without CEL accept what the rules
refuse, and the operator must then report Stalled InvalidSpec for exactly those specs.
test_cel_rules holds a real API server to the same table, so the two agree through it.
"""

from __future__ import annotations

import pytest

from api.cel_cases import CASES, MODELREF_RULES, SYNC_RULES, Case
from modelsync.api.modelcatalogsync import parse_spec


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_runtime_validation_gives_the_rules_verdict(case: Case) -> None:
    _, errors = parse_spec(case.full_spec())
    if case.accepted:
        assert errors == []
    else:
        assert errors, f"the runtime accepts what the API server refuses: {case.spec}"
        for error in errors:
            assert error.startswith(case.field), error


def test_every_rule_has_cases_both_ways() -> None:
    """A rule added to the CRD without cases here fails; so does a case for a rule that is
    gone."""
    assert MODELREF_RULES == {}
    assert set(SYNC_RULES) <= {case.checks for case in CASES}
    for path in SYNC_RULES:
        mine = [case for case in CASES if case.checks == path]
        assert any(case.accepted for case in mine), path
        assert any(not case.accepted and case.server_says is None for case in mine), path
    for case in CASES:
        if not case.accepted and case.server_says is None:
            assert case.checks in SYNC_RULES, case.id


def test_every_rule_says_how_to_fix_it() -> None:
    for path, rules in SYNC_RULES.items():
        for rule in rules:
            assert set(rule) == {"rule", "message"}, path
            name = path.split(".")[-1] if not path.endswith(".*") else path.split(".")[-2]
            assert name in rule["message"], f"{path}: the message should name the field"
            assert "\n" not in rule["message"].strip(), path


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
