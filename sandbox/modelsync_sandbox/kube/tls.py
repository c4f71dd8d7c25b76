"""The sandbox's HTTPS certificates: a private CA and a server certificate it signs.

kubectl (client-go) sends bearer tokens only over TLS, so the sandbox serves
HTTPS; clients verify it with the CA written into the kubeconfig. With a state
file the CA is kept beside it, so clients' kubeconfigs survive restarts.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerTLS:
    context: ssl.SSLContext
    ca_pem: bytes


def _load_or_create_ca(ca_file: Path | None) -> trustme.CA:
    if ca_file is not None and ca_file.exists():
        pem = ca_file.read_bytes()
        marker = b"-----BEGIN CERTIFICATE-----"
        key, _, cert = pem.partition(marker)
        return trustme.CA.from_pem(marker + cert, key)
    ca = trustme.CA(organization_name="modelsync kube sandbox")
    if ca_file is not None:
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(ca_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(ca.private_key_pem.bytes() + ca.cert_pem.bytes())
    return ca


def server_tls(host: str, ca_file: Path | None = None) -> ServerTLS:
    ca = _load_or_create_ca(ca_file)
    names = ["127.0.0.1", "localhost", "::1"]
    if host not in names and host not in ("0.0.0.0", "::"):  # noqa: S104 - names, not binds
        names.insert(0, host)
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return ServerTLS(context=context, ca_pem=ca.cert_pem.bytes())
