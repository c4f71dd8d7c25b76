"""Fault specs and matching, without a server: validation, JSON round trips, counting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.kube.faults import (
    DELAY,
    DROP,
    GONE,
    STATUS,
    VERBS,
    Fault,
    FaultInjector,
    FaultSpecError,
    status_error,
)


def test_resource_matches_its_subresources_but_not_the_other_way() -> None:
    fault = Fault(STATUS, status=500, resources=frozenset({"modelrefs"}))
    assert fault.matches("patch", "modelrefs", "ns", "a")
    assert fault.matches("patch", "modelrefs/status", "ns", "a")
    assert not fault.matches("patch", "modelrefsx", "ns", "a")
    only_status = Fault(STATUS, status=500, resources=frozenset({"modelrefs/status"}))
    assert only_status.matches("patch", "modelrefs/status", "ns", "a")
    assert not only_status.matches("patch", "modelrefs", "ns", "a")


def test_verb_namespace_and_name_narrow_the_match() -> None:
    fault = Fault(
        DROP, verbs=frozenset({"create"}), resources=frozenset({"leases"}), namespace="n", name="x"
    )
    assert fault.matches("create", "leases", "n", "x")
    assert not fault.matches("update", "leases", "n", "x")
    assert not fault.matches("create", "leases", "other", "x")
    assert not fault.matches("create", "leases", "n", "y")
    assert Fault(DROP).matches("watch", "events", "", "")  # no filters: everything


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ({"fault": "explode"}, "fault"),
        ({}, "fault"),
        ({"fault": "status", "status": 418}, "status"),
        ({"fault": "status"}, "status"),
        ({"fault": "status", "status": "429"}, "status"),
        ({"fault": "drop", "status": 500}, "status"),
        ({"fault": "gone", "verbs": ["list"]}, "watch"),
        ({"fault": "delay"}, "seconds"),
        ({"fault": "delay", "seconds": -1}, "seconds"),
        ({"fault": "drop", "seconds": 1}, "seconds"),
        ({"fault": "drop", "retryAfter": 1}, "retryAfter"),
        ({"fault": "status", "status": 429, "retryAfter": -1}, "retryAfter"),
        ({"fault": "drop", "count": 0}, "count"),
        ({"fault": "drop", "verbs": ["fetch"]}, "verbs"),
        ({"fault": "drop", "verbs": [1]}, "verbs"),
        ({"fault": "drop", "namespace": 3}, "namespace"),
        ({"fault": "drop", "colour": "red"}, "colour"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(spec: object, complaint: str) -> None:
    with pytest.raises(FaultSpecError, match=complaint):
        Fault.from_json(spec)


def test_json_round_trip_and_429_default_retry_after() -> None:
    fault = Fault.from_json(
        {"fault": "status", "status": 429, "verbs": "patch", "resources": ["modelrefs"]}
    )
    assert fault.retry_after == 1
    assert fault.verbs == {"patch"}
    assert Fault.from_json(fault.to_json()) == fault
    gone = Fault.from_json({"fault": "gone"})
    assert gone.kind == GONE
    assert gone.verbs == {"watch"}
    slow = Fault.from_json({"fault": "delay", "seconds": 2, "count": 3})
    assert (slow.kind, slow.seconds, slow.count) == (DELAY, 2.0, 3)


def test_status_error_is_a_kubernetes_status_with_retry_after() -> None:
    error = status_error(Fault(STATUS, status=429, retry_after=7))
    body = error.to_status()
    assert (body["code"], body["reason"], body["status"]) == (429, "TooManyRequests", "Failure")
    assert body["details"] == {"retryAfterSeconds": 7}
    assert error.headers == {"Retry-After": "7"}
    assert status_error(Fault(STATUS, status=503)).to_status()["reason"] == "ServiceUnavailable"
    assert status_error(Fault(STATUS, status=500)).headers == {}


@given(count=st.integers(1, 20), requests=st.integers(0, 40))
def test_a_counted_fault_hits_exactly_its_count_then_disarms(count: int, requests: int) -> None:
    faults = FaultInjector()
    fault_id = faults.fail(503, verbs=["list"], count=count)
    hits = [faults.take("list", "secrets", "ns", "") for _ in range(requests)]
    assert sum(h is not None for h in hits) == min(count, requests)
    assert all(h is not None for h in hits[: min(count, requests)])  # the first ones, in order
    assert faults.hits(fault_id) == min(count, requests)
    assert faults.any_armed() == (requests < count)


@given(
    verbs=st.lists(st.sampled_from(sorted(VERBS)), unique=True),
    verb=st.sampled_from(sorted(VERBS)),
)
def test_non_matching_requests_never_consume_a_fault(verbs: list[str], verb: str) -> None:
    faults = FaultInjector()
    fault_id = faults.drop(verbs=verbs, resources=["leases"], count=1)
    assert faults.take(verb, "configmaps", "ns", "") is None
    hit = faults.take(verb, "leases", "ns", "")
    assert (hit is not None) == (not verbs or verb in verbs)
    assert faults.hits(fault_id) == (1 if hit else 0)


def test_first_armed_fault_wins_and_until_cleared_faults_stay() -> None:
    faults = FaultInjector()
    first = faults.fail(500, resources=["secrets"])
    faults.fail(503, resources=["secrets"])
    for _ in range(5):
        hit = faults.take("get", "secrets", "ns", "s")
        assert hit is not None
        assert hit.id == first
    assert faults.remove(first)
    hit = faults.take("get", "secrets", "ns", "s")
    assert hit is not None
    assert hit.fault.status == 503
    faults.clear()
    assert faults.take("get", "secrets", "ns", "s") is None
    assert faults.hits(first) == 5  # still readable once disarmed
    assert not faults.remove(first)
