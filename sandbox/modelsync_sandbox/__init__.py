"""Local stand-ins for the services modelsync talks to, for the demo and the tests.

`catalog_server` serves the TrueFoundry List Models API from a fixture file;
`kube` (its own package) serves an in-memory Kubernetes API. Nothing on the
operator path imports this package.
"""
