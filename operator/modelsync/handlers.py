"""Kopf glue only: thin handlers that pass watch events to the runtime.

Only `@kopf.on.event` handlers are used: they make Kopf add no finalizer and write no
annotation or status of its own, so a steady state costs zero writes. Handlers return None
(a return value would be stored in the object's status by Kopf).

Kopf watches the ModelCatalogSyncs only (with --sync-selector, only the shard's: the selector
is sent to the API server and checked again here). The ModelRefs are watched by
kube.modelref_watch, in the namespaces of the syncs Kopf shows, at a small fraction of Kopf's
cost per event.
"""

from __future__ import annotations

from typing import Any

import kopf
from kubernetes import client as k8s

from modelsync.api.constants import GROUP, PLURAL_SYNC, VERSION
from modelsync.kube.modelref_watch import ModelRefWatches
from modelsync.runtime.app import OperatorRuntime

__all__ = ["connection_info", "register"]


def connection_info(configuration: k8s.Configuration) -> kopf.ConnectionInfo:
    """Kopf's credentials from the same client configuration the runtime uses."""
    header = configuration.get_api_key_with_prefix(
        "BearerToken"
    ) or configuration.get_api_key_with_prefix("authorization")
    scheme: str | None = None
    token: str | None = None
    if header:
        first, _, rest = header.partition(" ")
        scheme, token = (first, rest) if rest else (None, first)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
    )


def register(
    registry: kopf.OperatorRegistry, runtime: OperatorRuntime, modelrefs: ModelRefWatches
) -> None:
    """Register the operator's handlers on `registry` (never Kopf's global one); `modelrefs`
    follows the syncs' namespaces and feeds `runtime.modelref_event`."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(runtime.configuration)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await modelrefs.close()
        await runtime.shutdown()

    @kopf.on.probe(id="leader", registry=registry)
    def leader(**_: Any) -> bool:
        """Shown by the liveness endpoint: does this replica run the syncs?"""
        return runtime.leading

    @kopf.on.event(GROUP, VERSION, PLURAL_SYNC, registry=registry)
    async def sync_event(event: kopf.RawEvent, **_: Any) -> None:
        body = event["object"]
        # Another shard's sync (--sync-selector) is to this one as if deleted.
        event_type = event.get("type") if runtime.takes(body) else "DELETED"
        modelrefs.follow(event_type, body)
        await runtime.sync_event(event_type, body)
