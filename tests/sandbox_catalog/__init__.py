"""Tests of the sandbox catalog server, its fixtures and its spec conformance."""
