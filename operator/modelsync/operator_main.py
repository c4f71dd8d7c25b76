"""Start the operator: Kopf settings, the handler registry and the runtime, in one event loop.

Kopf is told to stay silent and stateless: no Kubernetes Events for handler results, no
finalizers, no progress or diff-base annotations (only watching handlers are registered).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import kopf

from modelsync.api.constants import GROUP, LABEL_MANAGED_BY, MANAGED_BY_VALUE, PLURAL_MODELREF
from modelsync.handlers import register
from modelsync.kube.client import load_configuration
from modelsync.runtime.app import OperatorRuntime
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.observers import SyncObserver

__all__ = ["KopfOptions", "kopf_settings", "run_operator"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KopfOptions:
    """How this process joins the cluster. No namespaces: all namespaces (cluster-wide)."""

    namespaces: Sequence[str] = ()
    standalone: bool = False
    peering_name: str | None = None
    priority: int = 0
    liveness_endpoint: str | None = None
    kubeconfig: str | None = None
    context: str | None = None


def kopf_settings(options: KopfOptions) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.posting.enabled = False  # our own Events only; Kopf would post handler results
    settings.peering.priority = options.priority
    settings.peering.clusterwide = not options.namespaces
    # Server-side filter: only ModelRefs the operator manages are watched.
    settings.watching.label_selectors[GROUP, PLURAL_MODELREF] = (
        f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"
    )
    settings.process.ultimate_exiting_timeout = 30
    return settings


async def run_operator(
    config: OperatorConfig,
    options: KopfOptions,
    *,
    observer: SyncObserver | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Run until stopped (SIGINT/SIGTERM in the main thread, or `stop_flag`)."""
    configuration = load_configuration(options.kubeconfig, options.context)
    runtime = OperatorRuntime(config, configuration, observer)
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    if options.peering_name is not None:
        standalone: bool | None = False
    else:
        standalone = True if options.standalone else None  # None: peer if peering CRDs exist
    logger.info(
        "modelsync operator starting (%s)",
        "namespaces " + ", ".join(options.namespaces) if options.namespaces else "all namespaces",
    )
    try:
        await kopf.operator(
            registry=registry,
            settings=kopf_settings(options),
            standalone=standalone,
            peering_name=options.peering_name,
            priority=options.priority,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        await runtime.shutdown()
