"""Log output of the operator process: one formatter for modelsync's and Kopf's loggers.

json: one JSON object per line (python-json-logger) with `time`, `level`, `logger`, `message`,
then the record's extra fields; Kopf's per-object records carry the object reference under
`object`. text: one human line per record, Kopf's per-object records prefixed [ns/name].

A connection failure is one line naming the server, its cause and the fix: Kopf's "Request
attempt #1/9 failed; will retry: GET URL -> ClientConnectorError(...)" lines are reworded,
stacks of connection errors (Kopf's failed observer, asyncio's unretrieved tasks) are dropped,
and urllib3's warning before each of its retries is left out.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import aiohttp
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "LOG_FORMATS",
    "JsonLogFormatter",
    "TextLogFormatter",
    "configure_logging",
    "connection_failure",
    "server_of",
]

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


_RUNNING = "is it running, and is the server address in the kubeconfig right?"
_ADDRESS = "check the server address in the kubeconfig"
_TLS = "check the server address and certificate-authority in the kubeconfig"
# (exception class names, the cause in words, the fix); the first entry naming a class of the
# exception (or of what it wraps) wins.
_CAUSES: tuple[tuple[frozenset[str], str, str], ...] = (
    (
        frozenset({"ClientConnectorCertificateError", "SSLCertVerificationError"}),
        "its certificate is not trusted",
        _TLS,
    ),
    (frozenset({"ClientSSLError", "ClientConnectorSSLError", "SSLError"}), "TLS failed", _TLS),
    (
        frozenset({"ClientConnectorDNSError", "gaierror"}),
        "its host name does not resolve",
        _ADDRESS,
    ),
    (frozenset({"ConnectionRefusedError"}), "connection refused", _RUNNING),
    (
        frozenset({"TimeoutError", "ServerTimeoutError", "ConnectionTimeoutError"}),
        "no answer in time",
        _RUNNING,
    ),
    (
        frozenset({"ServerDisconnectedError", "ConnectionResetError"}),
        "it closed the connection",
        _RUNNING,
    ),
    (
        frozenset({"ClientConnectorError", "ClientOSError", "ClientConnectionError"}),
        "cannot connect",
        _RUNNING,
    ),
)
_CONNECTION_ERRORS = (
    aiohttp.ClientConnectionError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    ssl.SSLError,
)
_LIBRARY_LOGGERS = ("kopf", "asyncio", "aiohttp")
# Kopf's line for a failed API request (kopf/_cogs/clients/api.py).
_KOPF_REQUEST = re.compile(
    r"Request attempt #(?P<attempt>\d+(?:/\d+)?) failed; (?P<next>will retry|escalating): "
    r"(?P<method>[A-Z]+) (?P<server>https?://[^/\s]+)(?P<path>\S*) -> (?P<error>.*)",
    re.DOTALL,
)


def _cause(class_names: Iterable[str]) -> tuple[str, str] | None:
    names = set(class_names)
    for classes, cause, fix in _CAUSES:
        if names & classes:
            return cause, fix
    return None


def _class_names(exc: BaseException) -> list[str]:
    names = [cls.__name__ for cls in type(exc).__mro__]
    inner = getattr(exc, "os_error", None) or exc.__cause__  # what aiohttp wraps
    if isinstance(inner, BaseException) and inner is not exc:
        names += [cls.__name__ for cls in type(inner).__mro__]
    return names


def connection_failure(exc: BaseException) -> tuple[str, str] | None:
    """(the cause in words, the fix) when `exc` is a failure to reach a server, else None."""
    if not isinstance(exc, _CONNECTION_ERRORS):
        return None
    return _cause(_class_names(exc)) or (str(exc) or type(exc).__name__, _RUNNING)


def server_of(exc: BaseException) -> str | None:
    """The scheme://host:port an aiohttp connection error was about, when it says."""
    if not isinstance(exc, aiohttp.ClientConnectorError):
        return None
    key = exc.args[0] if exc.args else None
    scheme = "https" if getattr(key, "is_ssl", True) else "http"
    return f"{scheme}://{exc.host}:{exc.port}"


def _reword_kopf_request(record: logging.LogRecord) -> None:
    if not record.name.startswith("kopf") or record.args:
        return
    found = _KOPF_REQUEST.fullmatch(str(record.msg))
    if found is None:
        return
    known = _cause(re.findall(r"\b([A-Za-z]*(?:Error|Exception|gaierror))\b", found["error"]))
    if known is None:  # an answer (5xx, 403, 429): Kopf's line already says what it was
        return
    cause, fix = known
    then = "retrying" if found["next"] == "will retry" else "giving up"
    record.msg = (
        f"cannot reach the Kubernetes API server {found['server']}: {cause} "
        f"({found['method']} {found['path'] or '/'}, attempt {found['attempt']}; {then}); {fix}"
    )


def _without_connection_stack(record: logging.LogRecord) -> None:
    """Kopf's and asyncio's records of a connection failure, without the stack (modelsync's
    own records keep theirs: there an unexpected one may be a bug)."""
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None or not record.name.startswith(_LIBRARY_LOGGERS):
        return
    known = connection_failure(exc)
    if known is None:
        return
    cause, fix = known
    server = server_of(exc)
    where = f"cannot reach {server}: {cause}" if server else f"{cause} ({exc})"
    first = record.getMessage().splitlines()[0]
    if str(exc):  # said again, shorter, below
        first = first.replace(str(exc), "")
    record.msg, record.args = f"{first.rstrip(': ')}: {where}; {fix}", ()
    record.exc_info, record.exc_text = None, None


def _one_line_connection_failures(record: logging.LogRecord) -> bool:
    _reword_kopf_request(record)
    _without_connection_stack(record)
    return True


def _not_a_retry(record: logging.LogRecord) -> bool:
    """urllib3 warns before each retry of a request ("Retrying (Retry(total=2, ...)) after
    connection broken by ..."); the failure itself is reported once, by the code that made
    the request, naming the server."""
    return not str(record.msg).startswith("Retrying (")


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
    handler.addFilter(_one_line_connection_failures)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet = ["httpx", "httpcore", "urllib3", "kubernetes", "aiohttp.access", "asyncio"]
    if not verbose:
        quiet.append("kopf.objects")  # one "Handler ... succeeded" line per watch event
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("urllib3.connectionpool").addFilter(_not_a_retry)
    return handler
