"""Log output of the operator process: one formatter for modelsync's and Kopf's loggers.

json: one JSON object per line (python-json-logger) with `time`, `level`, `logger`, `message`,
then the record's extra fields; Kopf's per-object records carry the object reference under
`object`. text: one human line per record, Kopf's per-object records prefixed [ns/name].
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

__all__ = ["LOG_FORMATS", "JsonLogFormatter", "TextLogFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")

# Attributes Kopf's object loggers attach: the object reference (kept, as `object`), a flag
# for its Event poster and the whole OperatorSettings (both dropped).
_KOPF_REF = "k8s_ref"
_KOPF_INTERNAL = frozenset({_KOPF_REF, "k8s_skip", "settings"})


def _object_ref(record: logging.LogRecord) -> Mapping[str, Any] | None:
    ref = getattr(record, _KOPF_REF, None)
    return ref if isinstance(ref, Mapping) else None


class JsonLogFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "taskName", *_KOPF_INTERNAL],
            timestamp="time",
        )

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        ref = _object_ref(record)
        if ref is not None:
            log_data["object"] = {k: v for k, v in ref.items() if v is not None}

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # `time` first: the order a reader scans a line in.
        return {"time": log_data.pop("time", None), **log_data}


class TextLogFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        ref = _object_ref(record)
        if ref is None:
            return super().formatMessage(record)
        namespace, name = ref.get("namespace"), ref.get("name")
        prefix = f"[{namespace}/{name}]" if namespace else f"[{name}]"
        record.message = f"{prefix} {record.message}"
        return super().formatMessage(record)


def configure_logging(
    log_format: str = "text", *, verbose: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger (modelsync, Kopf, libraries) through one handler on the root logger
    (replacing the root's handlers), INFO or DEBUG; quiets chatty libraries. Returns the
    handler."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; expected one of {LOG_FORMATS}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else TextLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet = ["httpx", "httpcore", "urllib3", "kubernetes", "aiohttp.access", "asyncio"]
    if not verbose:
        quiet.append("kopf.objects")  # one "Handler ... succeeded" line per watch event
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
