"""The webhook's pure rules: the signature, what a body asks for, the per-sync token bucket."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.runtime.webhook_rules import (
    MAX_MODELS,
    BadBody,
    HookRequest,
    RateLimiter,
    parse_body,
    retry_after_header,
    sign,
    signature_matches,
)

KEY = b"hook-key-0b8f"

# -- signature ----------------------------------------------------------------------------


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"models": ["churn/churn-survival"]}'
    expected = hmac.new(KEY, body, hashlib.sha256).hexdigest()
    assert sign(KEY, body) == f"sha256={expected}"
    assert signature_matches(KEY, body, f"sha256={expected}")
    assert signature_matches(KEY, body, f"sha256={expected.upper()}")


def test_signature_matches_what_openssl_computes() -> None:
    """The docs' CI job signs with `openssl dgst -sha256 -hmac KEY`."""
    body = b'{"models":["fraud/scorer"]}'
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", KEY.decode(), "-r"],
        input=body,
        capture_output=True,
        check=True,
        timeout=10,
    )
    digest = done.stdout.split()[0].decode()
    assert signature_matches(KEY, body, f"sha256={digest}")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 64,
        "sha256=" + "0" * 63,
        "SHA256=" + hmac.new(KEY, b"x", hashlib.sha256).hexdigest(),
        "sha256=" + hmac.new(KEY, b"x", hashlib.sha256).hexdigest() + "0",
        "sha256=" + "é" * 64,
    ],
)
def test_anything_but_the_signature_does_not_match(header: str | None) -> None:
    assert not signature_matches(KEY, b"x", header)


# Keys are the Secret's text, stripped: never empty, no NUL (HMAC pads keys with zeros).
_keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1).map(str.encode)


@given(_keys, _keys, st.binary(max_size=256))
def test_a_signature_holds_for_its_key_and_body_only(key: bytes, other: bytes, body: bytes) -> None:
    header = sign(key, body)
    assert signature_matches(key, body, header)
    if other != key:
        assert not signature_matches(other, body, header)
    assert not signature_matches(key, body + b"\n", header)


# -- body ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}"])
def test_an_empty_body_asks_for_a_full_sync(body: bytes) -> None:
    request = parse_body(body)
    assert request == HookRequest()
    assert request.full_sync


def test_models_are_normalized_sorted_and_deduplicated() -> None:
    body = json.dumps({"models": ["fraud/scorer", "churn/a", "fraud/scorer", "model:t/r/n"]})
    request = parse_body(body.encode())
    assert request.models == ("churn/a", "fraud/scorer", "model:t/r/n")
    assert not request.full_sync


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff", "not UTF-8"),
        (b"models=a/b", "not JSON"),
        (b"[1]", "JSON object"),
        (b'"a/b"', "JSON object"),
        (b'{"model": ["a/b"]}', "unknown field 'model'"),
        (b'{"models": "a/b"}', "list of model names"),
        (b'{"models": [1]}', "list of model names"),
        (b'{"models": []}', "empty"),
        (b'{"models": ["a"]}', "'a' is not a model name"),
        (b'{"models": ["a/b/c"]}', "'a/b/c' is not a model name"),
        (b'{"models": ["a/b,c"]}', "not a model name"),
        (b'{"models": ["a /b"]}', "not a model name"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_bad_bodies_say_why(body: bytes, problem: str) -> None:
    with pytest.raises(BadBody, match=problem):
        parse_body(body)


def test_the_number_of_names_is_capped() -> None:
    names = [f"repo/m{i}" for i in range(MAX_MODELS)]
    assert len(parse_body(json.dumps({"models": names}).encode()).models) == MAX_MODELS
    with pytest.raises(BadBody, match=f"at most {MAX_MODELS}"):
        parse_body(json.dumps({"models": [*names, "repo/one-more"]}).encode())


def test_a_long_bad_name_is_shortened_in_the_message() -> None:
    with pytest.raises(BadBody) as caught:
        parse_body(json.dumps({"models": ["x" * 5000]}).encode())
    assert len(str(caught.value)) < 300


_part = st.text(st.characters(codec="utf-8", exclude_characters="/,"), min_size=1, max_size=8)


@given(st.lists(st.tuples(_part, _part), min_size=1, max_size=10))
def test_accepted_names_are_what_reconcile_model_accepts(pairs: list[tuple[str, str]]) -> None:
    from modelsync.api.model_names import parse_model_name

    names = [f"{repo}/{name}" for repo, name in pairs]
    try:
        expected = tuple(sorted({str(parse_model_name(n)) for n in names}))
    except ValueError:
        with pytest.raises(BadBody):
            parse_body(json.dumps({"models": names}).encode())
        return
    assert parse_body(json.dumps({"models": names}).encode()).models == expected


@given(st.binary(max_size=512))
def test_any_bytes_give_a_request_or_bad_body(body: bytes) -> None:
    try:
        request = parse_body(body)
    except BadBody:
        return
    assert len(request.models) <= MAX_MODELS


# -- rate limit ---------------------------------------------------------------------------


def test_burst_then_one_per_refill_period() -> None:
    limiter = RateLimiter(5, 2.0)
    assert [limiter.take("s", 100.0) for _ in range(5)] == [0.0] * 5
    assert limiter.take("s", 100.0) == pytest.approx(2.0)
    assert limiter.take("s", 101.0) == pytest.approx(1.0)
    assert limiter.take("s", 102.0) == 0.0
    assert limiter.take("s", 102.0) == pytest.approx(2.0)
    assert limiter.take("other", 102.0) == 0.0  # per key
    assert limiter.take("s", 1000.0) == 0.0  # refilled, never beyond the burst
    assert [limiter.take("s", 1000.0) for _ in range(4)] == [0.0] * 4
    assert limiter.take("s", 1000.0) > 0


def test_a_refused_request_takes_nothing() -> None:
    limiter = RateLimiter(1, 10.0)
    assert limiter.take("s", 0.0) == 0.0
    for _ in range(100):
        assert limiter.take("s", 5.0) == pytest.approx(5.0)
    assert limiter.take("s", 10.0) == 0.0


def test_the_number_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(2, 1.0, max_keys=3)
    for key in range(10):
        limiter.take(key, 0.0)
        assert len(limiter) <= 3
    # A busy key survives while idle (full) ones make room.
    limiter = RateLimiter(2, 100.0, max_keys=2)
    limiter.take("busy", 0.0)
    limiter.take("idle", 0.0)
    limiter.take("busy", 1000.0)
    limiter.take("busy", 1000.0)
    limiter.take("new", 1000.0)
    assert limiter.take("busy", 1000.0) > 0


@given(st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), max_size=60))
def test_no_more_than_burst_plus_refills_are_let_through(gaps: list[float]) -> None:
    burst, refill = 5, 2.0
    limiter = RateLimiter(burst, refill)
    now = 0.0
    allowed = 0
    for gap in gaps:
        now += gap
        wait = limiter.take("s", now)
        assert wait >= 0
        if wait == 0:
            allowed += 1
        else:
            assert wait <= refill
            assert limiter.take("s", now + wait) == 0.0  # the promised time is enough
            allowed += 1
            now += wait
    assert allowed <= burst + now / refill + 1e-9


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(0, 1.0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, 0.0)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (2.0, "2")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header
