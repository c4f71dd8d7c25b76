"""A sandbox cluster and operator of their own (JSON logs, metrics endpoint) for the metrics
and logging tests, plus a /metrics reader.

Separate from the session operator of e2e_harness so that its counters see only these tests'
syncs: totals can then be compared exactly. Namespaces are left in place after each test
(deleting them would make the operator act while a later test reads totals); the cluster
goes away with the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from e2e_harness import (
    E2E,
    OPERATOR_FLAGS,
    Scenario,
    open_scenario,
    operator_of_its_own,
)
from prometheus_client.parser import text_string_to_metric_families

from fixtures_kube import E2E_KUBECONFIG_ENV

__all__ = ["Samples", "observed", "observed_scene", "scrape"]


@dataclass(frozen=True)
class Samples:
    """One scrape: (sample name, labels, value) triples."""

    items: tuple[tuple[str, dict[str, str], float], ...]

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        return sum(
            value
            for sample, found, value in self.items
            if sample == name and all(found.get(k) == v for k, v in labels.items())
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample == name and all(found.get(k) == v for k, v in labels.items())
            for sample, found, _ in self.items
        )

    def label_values(self, label: str) -> set[str]:
        return {found[label] for _, found, _ in self.items if label in found}


def parse_samples(text: str) -> Samples:
    return Samples(
        tuple(
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        )
    )


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return parse_samples(response.text)


@pytest.fixture(scope="session")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    if os.environ.get(E2E_KUBECONFIG_ENV):
        pytest.skip("runs a second operator, so it needs a sandbox cluster of its own")
    flags = (*(f for f in OPERATOR_FLAGS if not f.startswith("--log-format")), "--log-format=json")
    with operator_of_its_own(tmp_path_factory, "observed", flags, ready_timeout=20) as env:
        yield env


@pytest.fixture
def observed_scene(observed: E2E) -> Iterator[Scenario]:
    with open_scenario(observed, "obs", delete_namespace=False) as scene:
        yield scene
