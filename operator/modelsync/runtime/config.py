"""Operator-wide settings (the `modelsync run` flags), independent of Kopf and argparse."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelsync.runtime.hosts import DEFAULT_ALLOWED_HOSTS, AllowedHosts

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_SYNC_TIMEOUT", "OperatorConfig"]

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # = modelsync.catalog.DEFAULT_MAX_RESPONSE_BYTES
DEFAULT_SYNC_TIMEOUT = 600.0  # seconds for a whole sync pass


@dataclass(frozen=True)
class OperatorConfig:
    allowed_hosts: AllowedHosts = field(
        default_factory=lambda: AllowedHosts.parse(DEFAULT_ALLOWED_HOSTS)
    )
    max_concurrent_syncs: int = 4  # passes planning and writing at once
    max_concurrent_syncs_per_host: int = 2  # passes reading one catalog (scheme://host:port)
    max_concurrent_writes: int = 8
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # per catalog response, decompressed
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT  # wall-clock deadline of a whole sync pass
    default_interval: float = 300.0  # seconds; used when a spec has no interval
    secret_check_interval: float = 10.0
    status_heartbeat: float = 1800.0
    catalog_attempts: int = 4  # tries per catalog request, first one included
    failure_backoff_base: float = 1.0  # first retry delay after a failed sync
    interval_jitter: float = 0.05  # fraction of the interval added at random

    def __post_init__(self) -> None:
        limits = (
            self.max_concurrent_syncs,
            self.max_concurrent_syncs_per_host,
            self.max_concurrent_writes,
        )
        if min(limits) < 1:
            raise ValueError("concurrency limits must be at least 1")
        if self.max_response_bytes < 1024:
            raise ValueError("--max-response-bytes must be at least 1024")
        if self.sync_timeout <= 0:
            raise ValueError("--sync-timeout must be positive")
        if self.default_interval <= 0 or self.secret_check_interval <= 0:
            raise ValueError("intervals must be positive")
        if self.status_heartbeat <= 0 or self.catalog_attempts < 1:
            raise ValueError("status heartbeat must be positive and catalog attempts >= 1")
