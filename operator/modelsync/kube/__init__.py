"""Kubernetes I/O for the operator: Secrets, ModelRefs, sync status and Events."""
