"""Post core/v1 Events about a ModelRef or a ModelCatalogSync.

The Event is what client-go's recorder makes of one call: `involvedObject` the object's
reference, `type`/`reason`/`message`, `source.component` and `reportingComponent`
"modelsync", `reportingInstance` the host (the Pod's name), first and last timestamp now,
count 1, named `<object>.<random hex>`. Unlike the recorder it does not patch a repeat into
a count (the operator may only create Events): which Events go out is decided so that none
repeats a state (plan/events.py).

Posting is best effort: an Event that cannot be written is logged and dropped, it never fails
a sync.
"""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError
from modelsync.kube.wire import encode, ignore_answer
from modelsync.plan import SyncRef
from modelsync.plan.events import MAX_EVENT_MESSAGE, EventType

__all__ = ["COMPONENT", "EventType", "build_event", "post_event", "sync_reference"]

logger = logging.getLogger(__name__)

COMPONENT = "modelsync"

_MAX_NAME = 253
_SUFFIX_LEN = 17  # "." + 16 hex digits


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sync_reference(sync: SyncRef) -> dict[str, Any]:
    """A ModelCatalogSync as far as an Event about it needs (apiVersion, kind, metadata)."""
    return {
        "apiVersion": sync.api_version,
        "kind": sync.kind,
        "metadata": {"name": sync.name, "namespace": sync.namespace, "uid": sync.uid},
    }


def build_event(
    involved: Mapping[str, Any],
    *,
    event_type: EventType,
    reason: str,
    message: str,
    instance: str | None = None,
) -> dict[str, Any]:
    """The Event body for `involved` (a full object with apiVersion/kind/metadata)."""
    metadata = involved.get("metadata") or {}
    name = str(metadata.get("name", ""))
    namespace = str(metadata.get("namespace", ""))
    now = _now()
    if len(message) > MAX_EVENT_MESSAGE:
        message = message[: MAX_EVENT_MESSAGE - 3] + "..."
    # A cut name must still end a DNS label with a letter or digit.
    prefix = name[: _MAX_NAME - _SUFFIX_LEN].rstrip("-.") or "event"
    event_name = f"{prefix}.{secrets.token_hex(8)}"
    reference = {
        "apiVersion": involved.get("apiVersion"),
        "kind": involved.get("kind"),
        "name": name,
        "namespace": namespace,
        "uid": metadata.get("uid"),
        "resourceVersion": metadata.get("resourceVersion"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name, "namespace": namespace},
        "involvedObject": {key: value for key, value in reference.items() if value},
        "type": event_type,
        "reason": reason,
        "message": message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance or socket.gethostname(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


async def post_event(
    api: KubeApi,
    involved: Mapping[str, Any],
    *,
    event_type: EventType,
    reason: str,
    message: str,
) -> bool:
    """Create the Event; False (and a log line) when the API refused it."""
    body = build_event(involved, event_type=event_type, reason=reason, message=message)
    namespace = body["metadata"]["namespace"]
    try:
        await api.send(
            "create",
            "events",
            f"create Event {reason} for {body['involvedObject']['kind']} "
            f'"{body["involvedObject"]["name"]}"',
            api.core.create_namespaced_event,
            namespace,
            decode=ignore_answer,
            body=encode(body),
        )
    except KubeApiError as exc:
        logger.warning("could not post event: %s", exc)
        return False
    return True
