"""modelsync: keep a Kubernetes cluster in step with a TrueFoundry model catalog."""

__version__ = "0.1.0"
