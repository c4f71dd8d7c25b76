"""RecordSharing (catalog/records.py): the equal parts of a listing's records are kept once,
and sharing changes no value."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from catalog import examples
from catalog.client_support import make_client
from catalog.test_records import SETTINGS, canonical, encoded, page_bytes, valid_models
from modelsync.catalog.models import Model
from modelsync.catalog.pages import MODEL_PAGES, VERSION_PAGES, _decode_fast, decode_page
from modelsync.catalog.records import ModelRecord, RecordSharing, record_of
from modelsync_sandbox.catalog_server import CatalogSandbox


def _unshared(body: bytes) -> tuple[ModelRecord, ...]:
    page = _decode_fast(body, MODEL_PAGES)
    assert page is not None
    return page.items


def _model(number: int, **version_fields: Any) -> dict[str, Any]:
    model = examples.model()
    model["id"] = f"m-{number}"
    model["name"] = f"model-{number}"
    model["fqn"] = f"model:acme/fraud/model-{number}"
    latest = model["latest_version"]
    latest["id"] = f"v-{number}"
    latest["model_id"] = f"m-{number}"
    latest["fqn"] = f"model:acme/fraud/model-{number}:1"
    latest.update(version_fields)
    return model


@SETTINGS
@given(st.lists(st.lists(valid_models(), min_size=1, max_size=3), min_size=1, max_size=3))
def test_sharing_over_pages_changes_no_value(pages: list[list[dict[str, Any]]]) -> None:
    sharing = RecordSharing()
    for items in pages:
        body = page_bytes(items)
        shared = decode_page(body, MODEL_PAGES, sharing).items
        alone = _unshared(body)
        assert canonical(shared) == canonical(alone)
        assert encoded(shared) == encoded(alone)


def test_equal_parts_of_records_on_different_pages_are_one_object() -> None:
    sharing = RecordSharing()
    first = decode_page(page_bytes([_model(1)]), MODEL_PAGES, sharing).items[0]
    second = decode_page(page_bytes([_model(2)]), MODEL_PAGES, sharing).items[0]
    assert first.latest_version is not None
    assert second.latest_version is not None
    assert first.created_by_subject is second.created_by_subject
    assert first.latest_version.created_by_subject is second.latest_version.created_by_subject
    assert first.ml_repo_id is second.ml_repo_id
    assert first.latest_version.ml_repo_id is first.ml_repo_id
    assert second.latest_version.model_id is second.id
    environment = first.latest_version.manifest.environment
    assert environment is not None
    assert environment is second.latest_version.manifest.environment
    assert first.id != second.id


def test_different_parts_stay_apart() -> None:
    other_subject = {**examples.SUBJECT, "subjectSlug": "john@example.com"}
    sharing = RecordSharing()
    first = decode_page(page_bytes([_model(1)]), MODEL_PAGES, sharing).items[0]
    model = _model(2, created_by_subject=other_subject)
    model["latest_version"]["manifest"]["environment"] = {"python_version": "3.9"}
    second = decode_page(page_bytes([model]), MODEL_PAGES, sharing).items[0]
    assert first.latest_version is not None
    assert second.latest_version is not None
    assert first.latest_version.created_by_subject != second.latest_version.created_by_subject
    assert second.latest_version.created_by_subject.subject_slug == "john@example.com"
    assert second.latest_version.manifest.environment is not None
    assert second.latest_version.manifest.environment.python_version == "3.9"
    assert second.latest_version.manifest.environment.pip_packages == ()


def test_records_from_the_pydantic_path_are_shared_too() -> None:
    models = [_model(1), _model(2)]
    records = [record_of(Model.model_validate(copy.deepcopy(m))) for m in models]
    sharing = RecordSharing()
    for record in records:
        sharing.share_model(record)
    assert records[0].created_by_subject is records[1].created_by_subject
    assert canonical(records) == canonical(
        [record_of(Model.model_validate(copy.deepcopy(m))) for m in models]
    )


def test_version_pages_share_their_subjects() -> None:
    versions = [_model(1)["latest_version"], _model(2)["latest_version"]]
    items = decode_page(page_bytes(versions), VERSION_PAGES).items
    assert len(items) == 2
    assert items[0].created_by_subject is items[1].created_by_subject
    assert items[0].ml_repo_id is items[1].ml_repo_id


async def test_a_listing_shares_over_its_pages(catalog_server: CatalogSandbox) -> None:
    async with make_client(catalog_server, page_size=1) as client:
        listing = await client.list_models()
    assert listing.pages > 2
    subjects: dict[Any, Any] = {}
    for model in listing.models:
        subject = model.created_by_subject
        assert subjects.setdefault(subject, subject) is subject
    assert len(subjects) < len(listing.models)  # the fixture repeats its subjects
