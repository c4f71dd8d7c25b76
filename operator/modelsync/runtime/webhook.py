"""The push-trigger webhook: `POST /hooks/{namespace}/{name}` (`modelsync run --webhook-port`).

A request that passes every check is turned into what `modelsync reconcile SYNC [--model ...]`
does: the annotations `modelsync.dev/reconcile-requested-at` (and
`modelsync.dev/reconcile-models`) on the ModelCatalogSync. The leader's watch then runs a full
pass or the named fast path, so every replica, leader or standby, can serve the webhook
behind one Service. The webhook runs no sync itself.

Checks, in order (answers are short JSON bodies):
  413  the body is larger than MAX_BODY_BYTES (at most that many bytes plus one are read);
  404  no such sync among those this operator watches, no `spec.webhook`, or its Secret
       unusable (missing, not opted in, no such key): one body for all of them, so an
       unsigned request learns nothing about which;
  503  the Kubernetes API failed (reading the Secret or writing the annotation);
  401  `X-Modelsync-Signature` is not the body's HMAC-SHA256 under the Secret's key;
  400  the body is neither empty nor `{"models": [names]}`;
  429  the sync's token bucket is empty (Retry-After says when to come back); only signed,
       well-formed requests take a token, so strangers cannot use up a sync's budget;
  202  the annotations are set.
The key is read as catalog tokens are (kube/secrets.py: same namespace, the opt-in label) and
kept for `key_ttl` seconds, so a flood of requests does not become a flood of Secret reads.
Neither the key nor a signature is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from modelsync.api.modelcatalogsync import WebhookSpec
from modelsync.api.timestamps import format_time_precise
from modelsync.kube.client import KubeApi
from modelsync.kube.errors import KubeApiError, KubeForbidden, KubeNotFound
from modelsync.kube.modelcatalogsyncs import request_reconcile
from modelsync.kube.secrets import SecretNotFound, SecretNotOptedIn, read_secret_value
from modelsync.runtime.webhook_rules import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    BadBody,
    HookRequest,
    RateLimiter,
    parse_body,
    retry_after_header,
    signature_matches,
)

__all__ = ["HOOK_PATH", "SyncLookup", "WebhookConfig", "WebhookServer"]

logger = logging.getLogger(__name__)

HOOK_PATH = "/hooks/{namespace}/{name}"
# The same body for every 404: whether the sync exists is not the requester's business.
_NOT_FOUND = {"error": "no webhook for this path"}
# Transient API failures are remembered for less time than keys.
_FAILURE_TTL = 2.0

SyncLookup = Callable[[str, str], Mapping[str, Any] | None]
"""(namespace, name) -> the latest object of a sync this operator watches, or None."""


@dataclass(frozen=True)
class WebhookConfig:
    host: str
    port: int  # 0: any free port (tests)
    max_body_bytes: int = MAX_BODY_BYTES
    key_ttl: float = 10.0
    burst: int = 5
    refill_seconds: float = 2.0
    read_timeout: float = 10.0


@dataclass(frozen=True)
class _Answer:
    code: int
    body: Mapping[str, Any]
    note: str  # for the log line: never the key nor the signature
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class _Key:
    """A cached key lookup: the key, or why there is none (`transient`: the API failed)."""

    expires: float
    key: bytes | None
    problem: str = ""
    transient: bool = False


class _Rejected(Exception):
    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.note)
        self.answer = answer


class WebhookServer:
    """The aiohttp server; `start()` binds, `stop()` closes. `on_request(code)` is told
    every answer's status code (the metrics)."""

    def __init__(
        self,
        api: KubeApi,
        lookup: SyncLookup,
        config: WebhookConfig,
        *,
        on_request: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.config = config
        self._lookup = lookup
        self._on_request = on_request
        self._clock = clock
        self._limiter = RateLimiter(config.burst, config.refill_seconds)
        self._keys: dict[tuple[str, str, str], _Key] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._runner is not None, "not started"
        for address in self._runner.addresses:
            return int(address[1])
        raise RuntimeError("the webhook server is not listening")

    async def start(self) -> None:
        """Listen on host:port; OSError when that cannot be bound."""
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- one request ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        namespace = request.match_info["namespace"]
        name = request.match_info["name"]
        try:
            answer = await self._answer(request, namespace, name)
        except _Rejected as rejected:
            answer = rejected.answer
        if self._on_request is not None:
            self._on_request(answer.code)
        level = logging.INFO if answer.code < 500 else logging.WARNING
        logger.log(
            level,
            "webhook %s/%s from %s: %d %s",
            namespace,
            name,
            request.remote or "?",
            answer.code,
            answer.note,
        )
        return web.json_response(answer.body, status=answer.code, headers=answer.headers)

    async def _answer(self, request: web.Request, namespace: str, name: str) -> _Answer:
        body = await self._read_body(request)
        key = await self._key_of(namespace, name)
        if not signature_matches(key, body, request.headers.get(SIGNATURE_HEADER)):
            return _Answer(
                401,
                {
                    "error": f"missing or wrong {SIGNATURE_HEADER} (sha256=<hex HMAC-SHA256 of "
                    "the body under the sync's webhook key>)"
                },
                "bad or missing signature",
            )
        try:
            wanted = parse_body(body)
        except BadBody as exc:
            return _Answer(400, {"error": str(exc)}, f"bad body: {exc}")
        wait = self._limiter.take((namespace, name), self._clock())
        if wait > 0:
            after = retry_after_header(wait)
            return _Answer(
                429,
                {"error": f"too many requests for this sync; retry in {after}s"},
                f"rate limited (retry in {after}s)",
                {"Retry-After": after},
            )
        return await self._request(namespace, name, wanted)

    async def _read_body(self, request: web.Request) -> bytes:
        cap = self.config.max_body_bytes
        too_large = _Answer(
            413, {"error": f"the body is larger than {cap} bytes"}, f"body over {cap} bytes"
        )
        if request.content_length is not None and request.content_length > cap:
            raise _Rejected(too_large)
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.config.read_timeout):
                while True:
                    chunk = await request.content.read(cap + 1 - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > cap:
                        raise _Rejected(too_large)
        except TimeoutError:
            raise _Rejected(
                _Answer(408, {"error": "the body was not sent in time"}, "body read timed out")
            ) from None
        return b"".join(chunks)

    async def _key_of(self, namespace: str, name: str) -> bytes:
        """The sync's webhook key; _Rejected(404) when it has none, (503) when the API
        failed."""
        sync = self._lookup(namespace, name)
        raw = ((sync or {}).get("spec") or {}).get("webhook")
        if not isinstance(raw, Mapping):
            raise _Rejected(_Answer(404, _NOT_FOUND, "no such sync or no spec.webhook"))
        try:
            ref = WebhookSpec.model_validate(raw).secret_ref
        except ValidationError:
            raise _Rejected(_Answer(404, _NOT_FOUND, "spec.webhook is invalid")) from None
        found = await self._cached_key(namespace, ref.name, ref.key)
        if found.key is not None:
            return found.key
        if found.transient:
            raise _Rejected(
                _Answer(503, {"error": "cannot check the request now; retry later"}, found.problem)
            )
        raise _Rejected(_Answer(404, _NOT_FOUND, found.problem))

    async def _cached_key(self, namespace: str, secret: str, key: str) -> _Key:
        where = (namespace, secret, key)
        # One read per key at a time, however many requests wait for it.
        async with self._locks.setdefault(where, asyncio.Lock()):
            found = self._keys.get(where)
            if found is None or found.expires <= self._clock():
                self._drop_expired()
                found = self._keys[where] = await self._read_key(namespace, secret, key)
            return found

    async def _read_key(self, namespace: str, secret: str, key: str) -> _Key:
        now = self._clock()
        ttl = self.config.key_ttl
        try:
            value = await read_secret_value(self.api, namespace, secret, key)
        except (SecretNotFound, SecretNotOptedIn) as exc:
            logger.warning("webhook of %s: spec.webhook.secretRef: %s", namespace, exc)
            return _Key(now + ttl, None, f"webhook key unusable: {exc}")
        except KubeApiError as exc:
            fix = (
                " (the operator may not read it: see deploy/components/webhook)"
                if isinstance(exc, KubeForbidden)
                else ""
            )
            return _Key(now + _FAILURE_TTL, None, f"{exc}{fix}", transient=True)
        text = value.value.strip()  # a trailing newline from `echo` or a file is not the key
        return _Key(now + ttl, text.encode("utf-8"))

    def _drop_expired(self) -> None:
        now = self._clock()
        for where in [w for w, k in self._keys.items() if k.expires <= now]:
            del self._keys[where]
            lock = self._locks.get(where)
            if lock is not None and not lock.locked():
                del self._locks[where]

    async def _request(self, namespace: str, name: str, wanted: HookRequest) -> _Answer:
        value = format_time_precise(datetime.now(UTC))
        try:
            await request_reconcile(self.api, namespace, name, value, models=wanted.models)
        except KubeNotFound:
            return _Answer(404, _NOT_FOUND, "the sync is gone")
        except KubeApiError as exc:
            fix = (
                " (grant patch on modelcatalogsyncs: deploy/components/webhook)"
                if isinstance(exc, KubeForbidden)
                else ""
            )
            return _Answer(
                503, {"error": "cannot request the sync now; retry later"}, f"{exc}{fix}"
            )
        what = "full sync" if wanted.full_sync else "refresh of " + ", ".join(wanted.models)
        return _Answer(
            202,
            {
                "accepted": True,
                "sync": f"{namespace}/{name}",
                "requestedAt": value,
                "models": list(wanted.models),
            },
            f"requested a {what}",
        )
