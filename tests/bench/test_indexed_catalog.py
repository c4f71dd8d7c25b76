"""The bench's IndexedCatalogStore answers every listing as CatalogStore does, whatever the
changes in between, reusing the served form of each unchanged model; and the sandbox catalog
serves its pages (kept encodings and all) byte for byte as it encodes a page whole."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from generated_catalog import generate_catalog
from indexed_catalog import IndexedCatalogStore

from modelsync_sandbox.catalog_query import ModelFilter
from modelsync_sandbox.catalog_server import CatalogSandbox
from modelsync_sandbox.catalog_store import CatalogStore

DATA = generate_catalog(12)
MODEL_IDS = [m["id"] for m in DATA["models"]]
FILTERS = [
    ModelFilter(),
    ModelFilter(include_empty_models=False),
    ModelFilter(ml_repo_id=DATA["models"][0]["ml_repo_id"]),
    ModelFilter(name=DATA["models"][3]["name"]),
]

change = st.one_of(
    st.tuples(st.just("version"), st.sampled_from(MODEL_IDS)),
    st.tuples(st.just("remove"), st.sampled_from(MODEL_IDS)),
    st.tuples(st.just("empty"), st.sampled_from(MODEL_IDS)),
    st.tuples(st.just("list"), st.sampled_from(range(len(FILTERS)))),
)


def apply(store: CatalogStore, step: tuple[str, Any]) -> None:
    kind, arg = step
    if kind == "remove":
        store.remove_model(arg)
    elif kind == "empty":
        entry = next(m for m in DATA["models"] if m["id"] == arg)
        store.upsert_model({**entry, "versions": []})


def version(number: int) -> dict[str, Any]:
    return {"manifest": {"name": "m"}, "id": f"v-{number}", "created_at": "2025-01-01T00:00:00Z"}


@settings(max_examples=25, deadline=None)
@given(st.lists(change, max_size=12))
def test_listings_match_the_plain_store(steps: list[tuple[str, Any]]) -> None:
    plain, indexed = CatalogStore(DATA), IndexedCatalogStore(DATA)
    for number, step in enumerate(steps):
        if step[0] == "version":  # the same version in both stores
            for store in (plain, indexed):
                if store.model(step[1]) is not None:
                    store.add_version(step[1], version(number))
        elif step[0] == "list":
            flt = FILTERS[step[1]]
            assert indexed.list_models(flt) == plain.list_models(flt)
        else:
            apply(plain, step)
            apply(indexed, step)
    for flt in FILTERS:
        assert indexed.list_models(flt) == plain.list_models(flt)


def test_unchanged_models_keep_their_served_form() -> None:
    store = IndexedCatalogStore(DATA)
    before = store.list_models(ModelFilter())
    assert store.list_models(ModelFilter()) is before
    store.add_version(MODEL_IDS[5], {"manifest": {"name": "m"}})
    after = store.list_models(ModelFilter())
    assert after is not before
    by_id = {m["id"]: m for m in before}
    for model in after:
        if model["id"] == MODEL_IDS[5]:
            assert model["latest_version"]["manifest"]["version"] == 3
            assert model is not by_id[model["id"]]
        else:
            assert model is by_id[model["id"]]


def _pages(catalog: CatalogSandbox, limit: int) -> list[httpx.Response]:
    pages = []
    offset = 0
    while True:
        response = httpx.get(
            f"{catalog.api_url}/models",
            params={"offset": offset, "limit": limit},
            headers=catalog.auth_headers,
        )
        assert response.status_code == 200
        pages.append(response)
        if len(response.json()["data"]) < limit:
            return pages
        offset += limit


def test_pages_are_served_as_encoded_whole() -> None:
    catalog = CatalogSandbox({"models": []})
    catalog.catalog = IndexedCatalogStore(DATA)
    catalog.start_in_thread()
    try:
        for _ in range(2):  # encoded, then from the kept encodings
            pages = _pages(catalog, 5)
            assert [len(p.json()["data"]) for p in pages] == [5, 5, 2]
            for page in pages:
                assert page.content == json.dumps(page.json()).encode()
        catalog.catalog.add_version(MODEL_IDS[7], {"manifest": {"name": "m"}})
        catalog.catalog.remove_model(MODEL_IDS[0])
        pages = _pages(catalog, 5)
        served = [m for p in pages for m in p.json()["data"]]
        assert served == catalog.catalog.list_models(ModelFilter())
        assert [p.json()["pagination"]["total"] for p in pages] == [11, 11, 11]
        for page in pages:
            assert page.content == json.dumps(page.json()).encode()
        # a fault still changes the page it hits, and only that one
        catalog.faults.empty_page_next(1)
        faulted = _pages(catalog, 5)[0]
        assert faulted.json()["data"] == []
        assert _pages(catalog, 5)[0].content == pages[0].content
        catalog.faults.bad_body_next(1, "truncated")
        broken = httpx.get(
            f"{catalog.api_url}/models", params={"limit": 5}, headers=catalog.auth_headers
        )
        assert broken.content == pages[0].content[: len(pages[0].text) // 2]
    finally:
        catalog.stop_in_thread()
