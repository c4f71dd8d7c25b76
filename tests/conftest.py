"""Shared pytest set-up: fixtures for the sandbox servers live in their own plugin modules."""

pytest_plugins = ["fixtures_catalog", "fixtures_kube", "fixtures_real_cluster"]
