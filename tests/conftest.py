"""Shared pytest set-up: fixtures for the sandbox servers, the real control plane and the
end-to-end harness (tests/operator/e2e_harness.py) live in their own plugin modules.

The harness is a plugin here, not a conftest import further down, so that every folder
using `e2e` shares one session operator per API server: two operators on one real cluster
would both act on every ModelCatalogSync."""

pytest_plugins = [
    "fixtures_catalog",
    "fixtures_kube",
    "fixtures_real_cluster",
    "fixtures_helm",
    "e2e_harness",
]
