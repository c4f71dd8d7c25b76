from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from modelsync.api.naming import is_dns1123_subdomain, modelref_name

TENANT = "acme"
# What the catalog allows (list-models.openapi.yaml): ml_repo 3..100 chars starting with a
# letter, model names of alphanumerics, "-" and "_" up to 256 chars.
catalog_repos = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9\-]{1,98}[a-zA-Z0-9]\Z")
catalog_names = st.from_regex(r"\A[A-Za-z0-9_\-]{1,256}\Z")
# And anything at all, for robustness.
any_text = st.text(max_size=300)
some_parts = st.one_of(
    catalog_repos,
    catalog_names,
    any_text,
    st.sampled_from(["", ".", "-", "a", "A", "a-b", "b-c", "x", "_", "\u00e9", "\u0130"]),
)


def fqn(repo: str, name: str, tenant: str = TENANT) -> str:
    return f"model:{tenant}/{repo}/{name}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def test_plain_names_are_used_verbatim() -> None:
    assert modelref_name("fraud", "detector", fqn("fraud", "detector")) == "fraud.detector"
    assert modelref_name("a", "b-c", fqn("a", "b-c")) == "a.b-c"
    assert modelref_name("a-b", "c", fqn("a-b", "c")) == "a-b.c"


def test_other_names_get_a_hash_of_the_fqn() -> None:
    f = fqn("fraud", "Fraud_Model")
    assert modelref_name("fraud", "Fraud_Model", f) == f"fraud.fraud-model-{digest(f)}"
    assert modelref_name("fraud", "fraud-model", fqn("fraud", "fraud-model")) == "fraud.fraud-model"


@pytest.mark.parametrize(
    ("repo", "name"),
    [
        ("Fraud", "detector"),
        ("fraud", "Fraud_Model"),
        ("fraud", "__x__"),
        ("", ""),
        ("a.b", "c"),
        ("a", "b.c"),
        ("fraud", "-lead-dash"),
        ("fraud", "a" * 256),
        ("r" * 100, "m" * 256),
        ("fraud", "\u00fcber\u2603"),
        ("fraud", "\u0130stanbul"),
        ("fraud", "x-0123456789"),  # looks like a hashed name: hashed too
    ],
)
def test_awkward_inputs_give_valid_hashed_names(repo: str, name: str) -> None:
    result = modelref_name(repo, name, fqn(repo, name))
    assert is_dns1123_subdomain(result)
    assert result.endswith("-" + digest(fqn(repo, name)))


def test_boundary_pairs_stay_apart() -> None:
    pairs = [
        ("a", "b-c"),
        ("a-b", "c"),
        ("a.b", "c"),
        ("a", "b.c"),
        ("Fraud", "model"),
        ("fraud", "Model"),
        ("fraud", "Fraud_Model"),
        ("fraud", "fraud-model"),
        ("fraud", "fraud_model"),
        ("fraud", "FRAUD-MODEL"),
        ("", "x"),
        ("x", ""),
        ("x", "x"),
        ("-", "x"),
    ]
    names = [modelref_name(r, n, fqn(r, n)) for r, n in pairs]
    assert len(set(names)) == len(names)


def test_a_verbatim_name_cannot_equal_a_hashed_one() -> None:
    hashed = modelref_name("fraud", "Foo", fqn("fraud", "Foo"))
    _, _, lookalike = hashed.partition(".")  # a model literally named like the hashed name
    assert modelref_name("fraud", lookalike, fqn("fraud", lookalike)) != hashed


def test_long_verbatim_name_up_to_253() -> None:
    repo, name = "r" * 100, "m" * 152
    assert modelref_name(repo, name, fqn(repo, name)) == f"{repo}.{name}"
    name += "m"
    result = modelref_name(repo, name, fqn(repo, name))
    assert len(result) == 253
    assert is_dns1123_subdomain(result)


@given(some_parts, some_parts, any_text)
def test_always_a_valid_object_name(repo: str, name: str, model_fqn: str) -> None:
    result = modelref_name(repo, name, model_fqn)
    assert is_dns1123_subdomain(result)
    assert len(result) <= 253
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", result)


@given(some_parts, some_parts, any_text)
def test_deterministic(repo: str, name: str, model_fqn: str) -> None:
    assert modelref_name(repo, name, model_fqn) == modelref_name(repo, name, model_fqn)


@given(some_parts, some_parts, some_parts, some_parts)
def test_distinct_models_of_one_tenant_never_collide(
    repo_a: str, name_a: str, repo_b: str, name_b: str
) -> None:
    assume((repo_a, name_a) != (repo_b, name_b))
    a = modelref_name(repo_a, name_a, fqn(repo_a, name_a))
    b = modelref_name(repo_b, name_b, fqn(repo_b, name_b))
    assert a != b


@given(catalog_repos, catalog_names)
def test_catalog_names_that_are_valid_stay_readable(repo: str, name: str) -> None:
    result = modelref_name(repo, name, fqn(repo, name))
    if f"{repo}.{name}" == result:
        return
    # otherwise it was not a valid name (or looked hashed), and the hash makes it unique
    assert result.endswith(digest(fqn(repo, name)))
    assert not is_dns1123_subdomain(f"{repo}.{name}") or re.search(r"-[0-9a-f]{10}$", name)


def test_is_dns1123_subdomain() -> None:
    assert is_dns1123_subdomain("a")
    assert is_dns1123_subdomain("a.b-c.d")
    assert is_dns1123_subdomain("a" * 253)
    assert not is_dns1123_subdomain("a" * 254)
    for bad in ["", "A", "a_b", "-a", "a-", "a..b", ".a", "a.", "a.-b", "\u00e9"]:
        assert not is_dns1123_subdomain(bad), bad
