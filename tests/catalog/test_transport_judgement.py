"""The pure judgement of transport failures: what the message says and whether another try
can help, for the exception chains httpx, httpcore, anyio and ssl build (the same failures on
real sockets: test_client_tls_errors.py, test_client_errors.py)."""

from __future__ import annotations

import itertools
import socket
import ssl

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.catalog.transport import CatalogEndpoint, judge_transport_failure

AT = CatalogEndpoint("https", "catalog.example", 8443)
ORIGIN = "https://catalog.example:8443"
REFUSED = f"cannot connect to {ORIGIN} (connection refused); is the URL right and the catalog up?"


def chain(*errors: BaseException) -> BaseException:
    """errors[0] raised from errors[1] raised from ... (outermost first)."""
    for outer, inner in itertools.pairwise(errors):
        outer.__cause__ = inner
    return errors[0]


def connect_error(
    *causes: BaseException, text: str = "All connection attempts failed"
) -> BaseException:
    return chain(httpx.ConnectError(text), *causes)


def verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message} (_ssl.c:1006)"
    )
    error.verify_code = code
    error.verify_message = message
    return error


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://catalog.example", "https://catalog.example:443"),
        ("http://catalog.example/tfy", "http://catalog.example:80"),
        ("https://catalog.example:8443", "https://catalog.example:8443"),
        ("http://[::1]:8181", "http://[::1]:8181"),
        ("HTTPS://Catalog.Example", "https://catalog.example:443"),
    ],
)
def test_the_origin_always_names_the_port(url: str, origin: str) -> None:
    assert CatalogEndpoint.of(httpx.URL(url)).origin == origin


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            connect_error(
                OSError("All connection attempts failed"), ConnectionRefusedError(111, "x")
            ),
            REFUSED,
        ),
        (
            connect_error(ExceptionGroup("attempts", [ConnectionRefusedError(111, "refused")])),
            REFUSED,
        ),
        (
            connect_error(
                OSError("All connection attempts failed"), OSError(113, "No route to host")
            ),
            f"cannot connect to {ORIGIN} (No route to host); is the URL right and the catalog up?",
        ),
        (
            connect_error(socket.gaierror(-2, "Name or service not known")),
            "cannot resolve catalog.example (Name or service not known); is the host name in the "
            "catalog URL right?",
        ),
        (
            chain(httpx.ReadError(""), ConnectionResetError(104, "Connection reset by peer")),
            f"the connection to {ORIGIN} broke (Connection reset by peer)",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            f"{ORIGIN} did not answer with valid HTTP (Server disconnected without sending a "
            "response.)",
        ),
        (
            # anyio turns an EOF in the handshake into a broken stream: a cut-short connection
            connect_error(
                OSError("broken"), ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
            ),
            f"cannot connect to {ORIGIN} (EOF occurred in violation of protocol); is the URL "
            "right and the catalog up?",
        ),
    ],
)
def test_failures_worth_another_try(error: BaseException, message: str) -> None:
    judged = judge_transport_failure(error, AT)
    assert (judged.message, judged.retryable) == (message, True)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            connect_error(verify_error(20, "unable to get local issuer certificate")),
            f"the certificate of {ORIGIN} is not trusted (unable to get local issuer "
            "certificate); add its CA with spec.catalog.caSecretRef",
        ),
        (
            connect_error(verify_error(18, "self-signed certificate")),
            f"the certificate of {ORIGIN} is not trusted (self-signed certificate); add its CA "
            "with spec.catalog.caSecretRef",
        ),
        (
            connect_error(verify_error(62, "Hostname mismatch, certificate is not valid for 'x'.")),
            f"the certificate of {ORIGIN} is not valid for catalog.example; use a host name the "
            "certificate names in the catalog URL",
        ),
        (
            connect_error(verify_error(10, "certificate has expired")),
            f"the certificate of {ORIGIN} is not valid now (certificate has expired); the "
            "catalog needs a current certificate (or a clock is wrong)",
        ),
        (
            connect_error(
                ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
            ),
            f"TLS handshake with {ORIGIN} failed (wrong version number): the port does not "
            "speak TLS, probably plain http; use the catalog's https address",
        ),
        (
            connect_error(
                ssl.SSLError(
                    1,
                    "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure "
                    "(_ssl.c:1006)",
                )
            ),
            f"TLS handshake with {ORIGIN} failed (sslv3 alert handshake failure); the catalog's "
            "TLS settings and this client's do not match",
        ),
        (
            # TLS 1.3: a refused client certificate arrives with the first read
            chain(
                httpx.ReadError("alert"),
                ssl.SSLError(
                    1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
                ),
            ),
            f"TLS handshake with {ORIGIN} failed (tlsv13 alert certificate required); the "
            "catalog's TLS settings and this client's do not match",
        ),
        (
            httpx.LocalProtocolError("Illegal header value"),
            "LocalProtocolError: Illegal header value",
        ),
    ],
)
def test_failures_another_try_cannot_fix(error: BaseException, message: str) -> None:
    judged = judge_transport_failure(error, AT)
    assert (judged.message, judged.retryable) == (message, False)


def test_an_untrusted_certificate_with_the_syncs_own_ca_names_that_ca() -> None:
    error = connect_error(verify_error(20, "unable to get local issuer certificate"))
    judged = judge_transport_failure(error, CatalogEndpoint("https", "c.example", 443, True))
    assert judged.message == (
        "the certificate of https://c.example:443 is not signed by the CA in "
        "spec.catalog.caSecretRef (unable to get local issuer certificate); put the CA that "
        "signed it in that Secret"
    )


def test_a_closed_connection_on_plain_http_hints_at_https() -> None:
    error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    judged = judge_transport_failure(error, CatalogEndpoint("http", "c.example", 8443))
    assert judged.message.endswith("; if that port serves https, use an https:// URL")
    assert judged.retryable


texts = st.text(max_size=60).filter(lambda t: "UNEXPECTED_EOF" not in t)
errors = st.one_of(
    texts.map(lambda t: connect_error(OSError(t))),
    texts.map(lambda t: connect_error(OSError(5, t))),
    texts.map(lambda t: connect_error(ssl.SSLError(1, t))),
    texts.map(lambda t: connect_error(ssl.SSLError(1, f"[SSL: WRONG_VERSION_NUMBER] {t}"))),
    texts.map(lambda t: chain(httpx.ReadError(t), ConnectionResetError(104, t))),
    texts.map(httpx.RemoteProtocolError),
    texts.map(httpx.WriteError),
    texts.map(lambda t: connect_error(text=t)),
)


@given(errors, st.sampled_from([AT, CatalogEndpoint("http", "::1", 8181)]))
def test_every_judgement_is_one_line_naming_the_catalog(
    error: BaseException, at: CatalogEndpoint
) -> None:
    judged = judge_transport_failure(error, at)
    assert judged.message == " ".join(judged.message.split())
    assert at.origin in judged.message
    # Only what speaks of TLS is final: the protocol errors above, never a plain OSError.
    assert judged.retryable == (not isinstance(error.__cause__, ssl.SSLError))


def reraised_from_none(error: BaseException, during: BaseException) -> BaseException:
    """`error` as `raise error from None` leaves it while `during` was being handled."""
    try:
        try:
            raise during
        except BaseException:
            raise error from None
    except BaseException as caught:
        return caught


def test_a_cause_that_survives_only_as_a_suppressed_context_is_still_found() -> None:
    """httpcore's pool re-raises with `raise exc from None`: the ssl error that caused the
    ConnectError is then only its (suppressed) context."""
    error = reraised_from_none(
        httpx.ConnectError("certificate verify failed"),
        verify_error(20, "unable to get local issuer certificate"),
    )
    assert error.__cause__ is None
    assert error.__suppress_context__
    judged = judge_transport_failure(error, AT)
    assert not judged.retryable
    assert judged.message.startswith(f"the certificate of {ORIGIN} is not trusted")
