"""The catalog client of one ModelCatalogSync: built from its spec and the token (and CA)
Secret of its namespace, reused while neither changes, counting the catalog's responses."""

from __future__ import annotations

from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec
from modelsync.catalog import CatalogClient, ConnectGuard
from modelsync.kube.client import KubeApi
from modelsync.kube.secrets import read_secret_value
from modelsync.runtime.catalog_reads import CatalogAccess, catalog_client_for
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.observers import SyncObserver

__all__ = ["CatalogConnection"]


class CatalogConnection:
    """`responses` counts the catalog's HTTP responses (reset it at the start of a pass)."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        config: OperatorConfig,
        observer: SyncObserver,
        connect_guard: ConnectGuard,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._config = config
        self._observer = observer
        self._connect_guard = connect_guard
        self._client: CatalogClient | None = None
        self._access: CatalogAccess | None = None
        self.responses = 0

    @property
    def token(self) -> str | None:
        """The token of the current client, to blank it out of messages."""
        return self._access.token if self._access is not None else None

    async def client_for(
        self, spec: ModelCatalogSyncSpec, secrets: dict[str, str | None]
    ) -> CatalogClient:
        """The client for this spec and its Secrets; records in `secrets` the resourceVersion
        of each Secret read. Raises the Secret errors of kube.secrets and those of
        catalog_client_for."""
        ref = spec.catalog.token_secret_ref
        token = await read_secret_value(self._api, self._namespace, ref.name, ref.key)
        secrets[ref.name] = token.resource_version
        ca_pem = None
        if spec.catalog.ca_secret_ref is not None:
            ca_ref = spec.catalog.ca_secret_ref
            ca = await read_secret_value(self._api, self._namespace, ca_ref.name, ca_ref.key)
            secrets[ca_ref.name] = ca.resource_version
            ca_pem = ca.value
        wanted = CatalogAccess.of(spec, token.value, ca_pem)
        if self._client is not None and self._access == wanted:
            return self._client
        client = catalog_client_for(
            wanted,
            attempts=self._config.catalog_attempts,
            on_response=self._on_response,
            max_response_bytes=self._config.max_response_bytes,
            connect_guard=self._connect_guard,
        )
        await self.close()
        self._client, self._access = client, wanted
        return client

    def _on_response(self, status_code: int | None) -> None:
        self.responses += 1
        self._observer.catalog_response(status_code)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
