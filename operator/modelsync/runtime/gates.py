"""The concurrency limits of sync passes.

A pass waits on its catalog under a per-catalog limit (`--max-concurrent-syncs-per-host`)
and takes a global slot (`--max-concurrent-syncs`) only to plan and write. So syncs against
a hanging or dripping catalog hold only their own catalog's slots, never the global ones:
syncs against healthy catalogs go on.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

__all__ = ["SyncGates", "catalog_origin"]


def catalog_origin(url: str) -> str:
    """`scheme://host:port` of a catalog URL: the key of its per-catalog limit."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if port is None:
        port = 443 if scheme == "https" else 80
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


class SyncGates:
    """One global semaphore for planning and writing, one semaphore per catalog origin."""

    def __init__(self, max_syncs: int, max_per_catalog: int) -> None:
        if max_syncs < 1 or max_per_catalog < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.planning = asyncio.Semaphore(max_syncs)
        self._per_catalog = max_per_catalog
        self._catalogs: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    def catalog(self, url: str) -> _CatalogSlot:
        """`async with gates.catalog(url):` holds one of that catalog's slots."""
        return _CatalogSlot(self, catalog_origin(url))

    def catalogs_tracked(self) -> int:
        return len(self._catalogs)

    def catalog_users(self, url: str) -> int:
        """Passes holding or waiting for a slot of the catalog at `url`."""
        return self._users.get(catalog_origin(url), 0)

    async def _acquire(self, origin: str) -> None:
        gate = self._catalogs.get(origin)
        if gate is None:
            gate = self._catalogs[origin] = asyncio.Semaphore(self._per_catalog)
        self._users[origin] = self._users.get(origin, 0) + 1
        try:
            await gate.acquire()
        except BaseException:
            self._release_user(origin)
            raise

    def _release(self, origin: str) -> None:
        self._catalogs[origin].release()
        self._release_user(origin)

    def _release_user(self, origin: str) -> None:
        # Forget a catalog nobody holds or waits for: the table stays as small as the
        # number of catalogs in use.
        self._users[origin] -= 1
        if self._users[origin] == 0:
            del self._users[origin]
            del self._catalogs[origin]


class _CatalogSlot:
    def __init__(self, gates: SyncGates, origin: str) -> None:
        self._gates = gates
        self._origin = origin

    async def __aenter__(self) -> None:
        await self._gates._acquire(self._origin)

    async def __aexit__(self, *exc: object) -> None:
        self._gates._release(self._origin)
