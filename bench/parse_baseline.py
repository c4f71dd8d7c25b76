"""The reference cost: parse (and validate) the catalog pages a sync reads, and nothing else.

The pages are fetched once and saved; the parsing is timed in a fresh process
(`python bench/parse_baseline.py DIR`), so that neither the bench's large heap (sandboxes,
generated catalog) nor its other threads disturb it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ParseCost", "fetch_pages", "measure_in_subprocess"]

_PAGE_GLOB = "page-*.json"


@dataclass(frozen=True)
class ParseCost:
    """CPU seconds (one thread) for all pages, best of the repeats."""

    json_loads: float  # json.loads(body) alone: the floor any Python JSON consumer pays
    validate_json: float  # ListModelsResponse.model_validate_json(body): pydantic's fast path
    operator_parser: float  # json.loads + catalog.pages.parse_page: the pydantic page parser


def fetch_pages(api_url: str, token: str | None, page_size: int, directory: Path) -> int:
    """Save every page of the listing a sync reads (same query parameters) in `directory`;
    returns the number of pages."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    directory.mkdir(parents=True, exist_ok=True)
    offset = pages = 0
    with httpx.Client(headers=headers, timeout=120) as http:
        while True:
            params: dict[str, str | int] = {
                "include_empty_models": "false",
                "offset": offset,
                "limit": page_size,
            }
            answer = http.get(f"{api_url}/models", params=params)
            answer.raise_for_status()
            (directory / f"page-{pages:05d}.json").write_bytes(answer.content)
            pages += 1
            page = json.loads(answer.content)
            size = len(page["data"])
            offset += size
            if size == 0 or offset >= page["pagination"]["total"]:
                return pages


def measure_in_subprocess(directory: Path, repeats: int = 3, timeout: float = 600) -> ParseCost:
    done = subprocess.run(
        [sys.executable, __file__, str(directory), str(repeats)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    found = json.loads(done.stdout)
    return ParseCost(
        json_loads=float(found["json_loads"]),
        validate_json=float(found["validate_json"]),
        operator_parser=float(found["operator_parser"]),
    )


def _best(pages: Sequence[bytes], parse: Callable[[bytes], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for body in pages:
            parse(body)
        best = min(best, time.thread_time() - start)
    return best


def _main(argv: Sequence[str]) -> int:
    from modelsync.catalog.models import ListModelsResponse, Model
    from modelsync.catalog.pages import parse_page

    directory, repeats = Path(argv[0]), int(argv[1])
    pages = [path.read_bytes() for path in sorted(directory.glob(_PAGE_GLOB))]
    cost = {
        "json_loads": _best(pages, json.loads, repeats),
        "validate_json": _best(pages, ListModelsResponse.model_validate_json, repeats),
        "operator_parser": _best(pages, lambda body: parse_page(json.loads(body), Model), repeats),
    }
    print(json.dumps(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
