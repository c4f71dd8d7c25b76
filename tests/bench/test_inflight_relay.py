"""The bench's in-flight relay (bench/inflight_relay.py) in front of a real local HTTP server:
bytes pass unchanged both ways (large bodies too), each request is logged with its response
status, writes in flight are counted, and a connection that ends mid-request or cannot
reach the server ends cleanly. In a process of its own (bench/relay_process.py) it reports
the same figures."""

from __future__ import annotations

import http.client
import os
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from inflight_relay import InflightRelay, RelayedRequest
from relay_process import RelayProcess

BIG = bytes(range(256)) * 8192  # 2 MiB, more than any socket buffer holds


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release = threading.Event()
    waiting = threading.Semaphore(0)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/big":
            self._send(200, BIG)
        elif self.path == "/hang-up":
            self.close_connection = True  # no response at all
        else:
            self._send(404, b"no")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/wait":
            _Upstream.waiting.release()
            _Upstream.release.wait(10)
        self._send(201, body[::-1])

    def do_PATCH(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(422, b"invalid")


@pytest.fixture
def relay() -> Iterator[InflightRelay]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Upstream.release.clear()
    relay = InflightRelay("127.0.0.1", server.server_address[1])
    relay.start_in_thread()
    try:
        yield relay
    finally:
        _Upstream.release.set()
        relay.stop_in_thread()
        server.shutdown()
        server.server_close()


def connect(relay: InflightRelay) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)


def test_bytes_pass_unchanged_and_requests_are_logged(relay: InflightRelay) -> None:
    conn = connect(relay)
    conn.request("GET", "/big?x=1")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, BIG)
    conn.request("POST", "/echo", body=BIG)
    response = conn.getresponse()
    assert (response.status, response.read()) == (201, BIG[::-1])
    conn.request("PATCH", "/thing", body=b"{}")
    response = conn.getresponse()
    assert (response.status, response.read()) == (422, b"invalid")
    conn.request("GET", "/missing")
    assert conn.getresponse().read() == b"no"
    conn.close()
    assert relay.requests == [
        RelayedRequest("GET", "/big?x=1", 200),
        RelayedRequest("POST", "/echo", 201),
        RelayedRequest("PATCH", "/thing", 422),
        RelayedRequest("GET", "/missing", 404),
    ]
    assert relay.writes_seen == 2
    assert relay.in_flight == 0
    assert relay.max_in_flight == 1


def test_writes_in_flight_are_counted(relay: InflightRelay) -> None:
    conns = [connect(relay) for _ in range(3)]
    for conn in conns:
        conn.request("POST", "/wait", body=b"abc")
    for _ in conns:
        assert _Upstream.waiting.acquire(timeout=10)
    assert relay.in_flight == 3
    _Upstream.release.set()
    for conn in conns:
        assert conn.getresponse().read() == b"cba"
        conn.close()
    assert (relay.in_flight, relay.max_in_flight, relay.writes_seen) == (0, 3, 3)
    relay.reset_max()
    assert (relay.max_in_flight, relay.writes_seen, relay.requests) == (0, 0, [])


def test_a_connection_closed_mid_request_ends_it(relay: InflightRelay) -> None:
    conn = connect(relay)
    conn.request("GET", "/hang-up")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()
    deadline = threading.Event()
    for _ in range(100):
        if relay.requests:
            break
        deadline.wait(0.05)
    assert relay.requests == [RelayedRequest("GET", "/hang-up", 0)]
    assert relay.in_flight == 0


def test_an_unreachable_server_closes_the_client() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = InflightRelay("127.0.0.1", port)
    relay.start_in_thread()
    try:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                received = client.recv(100)
            except ConnectionResetError:  # closed with the request unread: a reset
                received = b""
            assert received == b""
    finally:
        relay.stop_in_thread()


def test_stop_closes_open_connections(relay: InflightRelay) -> None:
    conn = connect(relay)
    conn.request("GET", "/missing")
    assert conn.getresponse().read() == b"no"
    relay.stop_in_thread()  # the keep-alive connection is still open
    assert conn.sock is not None
    conn.sock.settimeout(10)
    assert conn.sock.recv(10) == b""
    conn.close()


def test_the_relay_in_a_process_of_its_own_reports_the_same() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Upstream.release.clear()
    relay = RelayProcess("127.0.0.1", server.server_address[1])
    try:
        assert relay.pid != os.getpid()
        conns = [http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10) for _ in "ab"]
        for conn in conns:
            conn.request("POST", "/wait", body=b"abc")
        for _ in conns:
            assert _Upstream.waiting.acquire(timeout=10)
        _Upstream.release.set()
        for conn in conns:
            assert conn.getresponse().read() == b"cba"
        conns[0].request("GET", "/missing")
        assert conns[0].getresponse().read() == b"no"
        for conn in conns:
            conn.close()
        assert (relay.max_in_flight, relay.writes_seen) == (2, 2)
        assert sorted(relay.requests, key=lambda r: r.method) == [
            RelayedRequest("GET", "/missing", 404),
            RelayedRequest("POST", "/wait", 201),
            RelayedRequest("POST", "/wait", 201),
        ]
        relay.reset_max()
        assert (relay.max_in_flight, relay.writes_seen, relay.requests) == (0, 0, [])
    finally:
        _Upstream.release.set()
        relay.stop()
        server.shutdown()
        server.server_close()
    assert relay.exit_code == 0
