"""CreateRef: a plan's creates render their body and status when read, and behave as the
plain immutable record they were (equality, copies, no assignment)."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError

import pytest

from modelsync.plan import CreateRef, plan_sync
from plan import factories as f


def _creates() -> tuple[CreateRef, ...]:
    models = [f.model(name="fraud"), f.model(name="churn", repo="retention")]
    plan = plan_sync(models, f.spec(), [], sync=f.SYNC, now=f.NOW, listing_complete=True)
    assert len(plan.creates) == 2
    return plan.creates


def test_a_planned_create_renders_anew_on_each_read() -> None:
    for create in _creates():
        body, status = create.body, create.status
        assert create.body == body
        assert create.body is not body  # not held by the plan
        assert create.status == status
        assert create.status is not status
        assert body["metadata"]["name"] == create.name
        assert body["spec"]["model"]["fqn"] == create.model_fqn
        assert status["status"]["observedGeneration"] == 1


def test_a_planned_create_equals_the_plain_one_with_its_body_and_status() -> None:
    for create in _creates():
        plain = CreateRef(create.name, create.model_fqn, create.body, create.status)
        assert plain == create
        assert create == plain
        assert repr(plain) == repr(create)
        assert plain.body is plain.body
    first, second = _creates()
    assert first != second
    assert first != (first.name, first.model_fqn, first.body, first.status)


@pytest.mark.parametrize("create", [*_creates(), CreateRef("r.x", "model:t/r/x", {"a": 1}, {})])
def test_copies_keep_what_the_create_renders(create: CreateRef) -> None:
    assert copy.copy(create) == create
    assert copy.deepcopy(create) == create
    assert pickle.loads(pickle.dumps(create)) == create  # noqa: S301 - our own bytes


def test_a_create_is_immutable_and_unhashable() -> None:
    create = _creates()[0]
    with pytest.raises(FrozenInstanceError):
        create.name = "other"
    with pytest.raises(FrozenInstanceError):
        del create.model_fqn
    with pytest.raises(TypeError):
        hash(create)
