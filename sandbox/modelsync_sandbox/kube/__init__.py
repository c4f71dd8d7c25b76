"""An in-memory Kubernetes API server for the demo and the tests (`modelsync sandbox kube`).

`KubeSandbox` is imported lazily, so that `modelsync --help` (which imports the
`cli` submodule) does not load aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelsync_sandbox.kube.sandbox import KubeSandbox

__all__ = ["KubeSandbox"]


def __getattr__(name: str) -> Any:
    if name == "KubeSandbox":
        from modelsync_sandbox.kube.sandbox import KubeSandbox

        return KubeSandbox
    raise AttributeError(name)
