"""Log output: the JSON and text formatters, routing of Kopf's loggers, and the one
structured line per sync of a running operator."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from e2e_harness import CATALOG_TOKEN, Scenario
from observed_operator import observed, observed_scene, scrape

from modelsync.runtime.logs import (
    JsonLogFormatter,
    TextLogFormatter,
    configure_logging,
    connection_failure,
    server_of,
)
from modelsync.runtime.observers import CATALOG_COUNT_KEYS, MODELREF_COUNT_KEYS, SyncReport

__all__ = ["observed", "observed_scene"]  # fixtures used below

REPORT = SyncReport(
    namespace="ml-serving",
    name="prod-models",
    result="success",
    reason="Synced",
    duration=1.2345,
    ready_refs=30,
    not_ready_refs=2,
    writes=7,
    counts={"selected": 32, "created": 3, "updated": 1, "unchanged": 28, "retained": 2},
    catalog={"models_listed": 40, "pages": 1, "requests": 2, "skipped": 0},
)


def record(
    message: str = "hello %s",
    *args: object,
    level: int = logging.INFO,
    name: str = "modelsync.runtime.runner",
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
) -> logging.LogRecord:
    logger = logging.getLogger(name)
    return logger.makeRecord(
        name, level, __file__, 1, message, args or ("world",), exc_info, extra=extra
    )


def sync_record() -> logging.LogRecord:
    return record("%s", REPORT.summary(), extra=REPORT.log_fields())


def test_json_line_has_the_fixed_fields_first_then_the_sync_counts() -> None:
    line = JsonLogFormatter().format(sync_record())
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:4] == ["time", "level", "logger", "message"]
    assert data["time"].endswith("+00:00")
    assert (data["level"], data["logger"]) == ("INFO", "modelsync.runtime.runner")
    assert data["message"].startswith("sync ml-serving/prod-models: success (Synced)")
    assert {k: data[k] for k in ("namespace", "sync", "result", "reason")} == {
        "namespace": "ml-serving",
        "sync": "prod-models",
        "result": "success",
        "reason": "Synced",
    }
    assert (data["duration_ms"], data["writes"]) == (1234, 7)
    assert data["catalog"] == {"models_listed": 40, "pages": 1, "requests": 2, "skipped": 0}
    assert data["modelrefs"] == {
        "selected": 32,
        "created": 3,
        "updated": 1,
        "unchanged": 28,
        "deleted": 0,  # absent in the report: still in the schema
        "retained": 2,
        "failed": 0,
        "ready": 30,
        "not_ready": 2,
    }


def test_a_failed_sync_logs_the_same_schema() -> None:
    failed = SyncReport("ml", "prod", "failure", "CatalogUnavailable", 0.5, 4, 0, 1)
    data = json.loads(
        JsonLogFormatter().format(record("%s", failed.summary(), extra=failed.log_fields()))
    )
    assert set(data["catalog"]) == set(CATALOG_COUNT_KEYS)
    assert set(data["modelrefs"]) == {*MODELREF_COUNT_KEYS, "ready", "not_ready"}
    assert data["result"] == "failure"
    assert data["message"] == "sync ml/prod: failure (CatalogUnavailable) in 0.50s; 1 write"


def test_json_keeps_kopf_object_references_and_drops_its_internals() -> None:
    extra = {
        "k8s_ref": {"kind": "ModelCatalogSync", "name": "prod", "namespace": "ml", "uid": None},
        "k8s_skip": True,
        "settings": object(),
    }
    data = json.loads(JsonLogFormatter().format(record(name="kopf.objects", extra=extra)))
    assert data["object"] == {"kind": "ModelCatalogSync", "name": "prod", "namespace": "ml"}
    assert "settings" not in data
    assert "k8s_skip" not in data
    assert data["message"] == "hello world"


def test_json_exceptions_stay_on_one_line() -> None:
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        failed = record(level=logging.ERROR, exc_info=sys.exc_info())
    line = JsonLogFormatter().format(failed)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR"
    assert "RuntimeError: broken" in data["exc_info"]


def test_text_is_one_readable_line() -> None:
    line = TextLogFormatter().format(sync_record())
    assert "\n" not in line
    assert (
        " INFO    modelsync.runtime.runner: sync ml-serving/prod-models: success (Synced) " in line
    )
    assert "catalog: 40 models, 1 page in 2 requests" in line
    assert "ModelRefs: 32 selected, 3 created, 1 updated, 28 unchanged" in line
    assert line.endswith("; 7 writes")
    kopf = record(name="kopf.objects", extra={"k8s_ref": {"name": "prod", "namespace": "ml"}})
    assert TextLogFormatter().format(kopf).endswith("kopf.objects: [ml/prod] hello world")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    touched = ["httpx", "httpcore", "urllib3", "kubernetes", "aiohttp.access", "asyncio"]
    levels = {name: logging.getLogger(name).level for name in [*touched, "kopf.objects"]}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("restored_logging")
def test_kopf_and_modelsync_loggers_share_one_json_handler() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    logging.getLogger("kopf.activities.startup").info("Kopf says %s", "hi")
    logging.getLogger("modelsync.runtime.runner").info(
        "%s", REPORT.summary(), extra=REPORT.log_fields()
    )
    logging.getLogger("httpx").info("quiet below warnings")
    logging.getLogger("modelsync.x").debug("not at INFO")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == [
        "kopf.activities.startup",
        "modelsync.runtime.runner",
    ]
    assert lines[1]["modelrefs"]["created"] == 3


@pytest.mark.usefixtures("restored_logging")
def test_verbose_text_logging() -> None:
    stream = io.StringIO()
    configure_logging("text", verbose=True, stream=stream)
    logging.getLogger("modelsync.x").debug("now shown")
    assert stream.getvalue().rstrip().endswith("DEBUG   modelsync.x: now shown")
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging("xml")


@pytest.mark.usefixtures("restored_logging")
def test_urllib3_retry_warnings_are_dropped_and_its_other_warnings_kept() -> None:
    """Each retry of a Kubernetes client request was a warning of its own; the failure is
    reported once by the code that made the request."""
    stream = io.StringIO()
    configure_logging("text", stream=stream)
    pool = logging.getLogger("urllib3.connectionpool")
    pool.warning(
        "Retrying (%r) after connection broken by '%r': %s",
        "Retry(total=2, connect=None, read=None, redirect=None, status=None)",
        "NewConnectionError('Failed to establish a new connection: [Errno 111]')",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/modelsync-leader",
    )
    pool.warning("Connection pool is full, discarding connection: %s", "127.0.0.1")
    configure_logging("text", stream=stream)  # again: one filter, not two
    pool.warning("Retrying (%r) after connection broken by '%r': %s", "Retry(total=1)", "x", "/")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(
        "urllib3.connectionpool: Connection pool is full, discarding connection: 127.0.0.1"
    )


async def refused_connection() -> tuple[str, BaseException]:
    """A real aiohttp failure: a request to a port that is bound but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        server = f"https://127.0.0.1:{sock.getsockname()[1]}"
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectorError) as raised:
                await session.get(f"{server}/api", timeout=aiohttp.ClientTimeout(total=10))
    return server, raised.value


FIX = "is it running, and is the server address in the kubeconfig right?"


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_kopf_request_failures_are_one_line_naming_the_server(log_format: str) -> None:
    server, exc = await refused_connection()
    stream = io.StringIO()
    configure_logging(log_format, stream=stream)
    kopf = logging.getLogger("kopf._core.reactor.observation")
    # Kopf's own wording (kopf/_cogs/clients/api.py), with the exception's repr.
    kopf.error(f"Request attempt #1/9 failed; will retry: GET {server}/api -> {exc!r}")
    kopf.error(f"Request attempt #9/9 failed; escalating: GET {server}/apis -> {exc!r}")
    answered = f"Request attempt #2/9 failed; will retry: GET {server}/api -> APIServerError('x')"
    kopf.error(answered)
    lines = stream.getvalue().splitlines()
    if log_format == "json":
        lines = [json.loads(line)["message"] for line in lines]
    assert len(lines) == 3
    assert lines[0].endswith(
        f"cannot reach the Kubernetes API server {server}: connection refused "
        f"(GET /api, attempt 1/9; retrying); {FIX}"
    )
    assert lines[1].endswith(
        f"cannot reach the Kubernetes API server {server}: connection refused "
        f"(GET /apis, attempt 9/9; giving up); {FIX}"
    )
    assert lines[2].endswith(answered)  # an answer, not a connection failure: Kopf's words


@pytest.mark.usefixtures("restored_logging")
async def test_library_stacks_of_connection_failures_become_one_line() -> None:
    server, exc = await refused_connection()
    stream = io.StringIO()
    configure_logging("text", stream=stream)
    for name, message in (
        ("kopf._cogs.aiokits.aiotasks", f"Resource observer has failed: {exc}"),
        ("asyncio", "Task exception was never retrieved\nfuture: <Task finished name='T'>"),
    ):
        logging.getLogger(name).error(message, exc_info=(type(exc), exc, exc.__traceback__))
    ours = logging.getLogger("modelsync.runtime.runner")
    ours.error("sync failed", exc_info=(type(exc), exc, exc.__traceback__))
    text = stream.getvalue()
    kopf, asyncio_line, *modelsync = text.splitlines()
    assert kopf.endswith(
        f"kopf._cogs.aiokits.aiotasks: Resource observer has failed: cannot reach {server}: "
        f"connection refused; {FIX}"
    )
    assert asyncio_line.endswith(
        f"asyncio: Task exception was never retrieved: cannot reach {server}: connection "
        f"refused; {FIX}"
    )
    assert modelsync[0].endswith("modelsync.runtime.runner: sync failed")
    assert modelsync[1] == "Traceback (most recent call last):"  # ours keep their stacks


async def test_what_counts_as_a_connection_failure() -> None:
    server, exc = await refused_connection()
    assert connection_failure(exc) == ("connection refused", FIX)
    assert server_of(exc) == server
    assert connection_failure(TimeoutError()) == ("no answer in time", FIX)
    assert connection_failure(ValueError("no")) is None
    assert server_of(TimeoutError()) is None


# --- a running operator (started with --log-format=json) ----------------------------------


@pytest.mark.e2e
def test_the_operator_writes_one_json_line_per_sync(observed_scene: Scenario) -> None:
    scene = observed_scene
    ns, name = scene.namespace, "logged"
    scene.create_sync(name, select={"mlRepos": ["fraud"]})
    status = scene.wait_condition(name, "True", "Synced")["status"]
    url = scene.e2e.metrics_url
    scene.wait(
        lambda: scrape(url).total("modelsync_syncs_total", namespace=ns, sync=name) >= 1,
        "the sync to be counted",
    )
    log = scene.e2e.operator.log()
    assert CATALOG_TOKEN not in log
    records = [json.loads(line) for line in log.splitlines() if line.strip()]  # all JSON
    assert {"modelsync.cli.kopf_main", "modelsync.runtime.runner"} <= {r["logger"] for r in records}
    assert any(r["logger"].startswith("kopf.") for r in records)
    mine = [r for r in records if r.get("namespace") == ns and r.get("sync") == name]
    assert len(mine) == 1
    line = mine[0]
    assert (line["level"], line["result"], line["reason"]) == ("INFO", "success", "Synced")
    assert line["message"].startswith(f"sync {ns}/{name}: success (Synced) in ")
    assert isinstance(line["duration_ms"], int)
    assert line["catalog"]["models_listed"] == status["catalog"]["modelsListed"] > 0
    assert line["catalog"]["requests"] == status["catalog"]["requests"]
    assert line["catalog"]["pages"] == status["catalog"]["pages"]
    refs = scene.modelrefs(name)
    assert line["modelrefs"]["selected"] == status["modelRefs"]["selected"] == len(refs)
    assert line["modelrefs"]["created"] == len(refs)
    assert line["modelrefs"]["ready"] + line["modelrefs"]["not_ready"] == len(refs)
    assert line["writes"] >= len(refs)
