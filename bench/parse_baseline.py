"""The reference cost: parse and validate the catalog pages a sync reads, and nothing else."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from modelsync.catalog.models import ListModelsResponse, Model
from modelsync.catalog.pages import parse_page

__all__ = ["ParseCost", "fetch_pages", "parse_cost"]


def fetch_pages(api_url: str, token: str | None, page_size: int) -> list[bytes]:
    """Every page of the listing a sync reads (same query parameters), as raw bodies."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    pages: list[bytes] = []
    offset = 0
    with httpx.Client(headers=headers, timeout=120) as http:
        while True:
            params: dict[str, str | int] = {
                "include_empty_models": "false",
                "offset": offset,
                "limit": page_size,
            }
            answer = http.get(f"{api_url}/models", params=params)
            answer.raise_for_status()
            pages.append(answer.content)
            page = json.loads(answer.content)
            size = len(page["data"])
            offset += size
            if size == 0 or offset >= page["pagination"]["total"]:
                return pages


@dataclass(frozen=True)
class ParseCost:
    """CPU seconds (this thread) for all pages, best of the repeats."""

    validate_json: float  # ListModelsResponse.model_validate_json(body): pydantic's fast path
    operator_parser: float  # json.loads + catalog.pages.parse_page: what the client does


def _best(pages: Sequence[bytes], parse: Callable[[bytes], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for body in pages:
            parse(body)
        best = min(best, time.thread_time() - start)
    return best


def parse_cost(pages: Sequence[bytes], repeats: int = 3) -> ParseCost:
    return ParseCost(
        validate_json=_best(pages, ListModelsResponse.model_validate_json, repeats),
        operator_parser=_best(pages, lambda body: parse_page(json.loads(body), Model), repeats),
    )
