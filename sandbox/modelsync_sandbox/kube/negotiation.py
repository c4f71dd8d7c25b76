"""Content negotiation: which representation a client asks for, and what it sends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from modelsync_sandbox.kube import errors, protobuf

JSON = "json"
TABLE = "table"
PARTIAL = "partial"

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_SERVED = (
    "application/json",
    "application/yaml",
    "application/json;as=Table;v=v1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
)


@dataclass(frozen=True)
class MediaType:
    mime: str
    params: dict[str, str]


def parse_media_types(header: str) -> list[MediaType]:
    found = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append(MediaType(pieces[0].lower(), params))
    return found


def _json_like(mime: str) -> bool:
    return mime in ("application/json", "application/*", "*/*")


def response_format(accept: str) -> str:
    """JSON, TABLE or PARTIAL (metadata only), by the client's first acceptable choice."""
    if not accept.strip():
        return JSON
    for media in parse_media_types(accept):
        if not _json_like(media.mime):
            continue
        kind = media.params.get("as")
        if kind is None:
            return JSON
        if media.params.get("g") != "meta.k8s.io" or media.params.get("v") not in ("v1", "v1beta1"):
            continue
        if kind == "Table":
            return TABLE
        if kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return PARTIAL
    raise errors.not_acceptable(_SERVED)


def aggregated_discovery_version(accept: str) -> str | None:
    """ "v2" or "v2beta1" when the client asks for aggregated discovery first."""
    for media in parse_media_types(accept):
        if (
            media.params.get("as") == "APIGroupDiscoveryList"
            and media.params.get("g") == "apidiscovery.k8s.io"
        ):
            version = media.params.get("v")
            if version in ("v2", "v2beta1"):
                return version
            continue
        if _json_like(media.mime):
            return None
    return None


def bare_content_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def decode_body(
    raw: bytes,
    content_type: str,
    *,
    allowed: tuple[str, ...],
    error_prefix: str = "couldn't get version/kind; json parse error: ",
) -> Any:
    """Parse a request body: JSON (or YAML where allowed); 415/400 as the API answers. The
    syntax error itself is Python's wording, not Go's."""
    mime = bare_content_type(content_type) or "application/json"
    if mime not in allowed:
        raise errors.unsupported_media_type(allowed)
    if not raw.strip():
        raise errors.bad_request("the body of the request was empty")
    if mime == protobuf.PROTOBUF:
        return protobuf.decode(raw)
    try:
        if mime in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"{error_prefix}{str(exc).splitlines()[0]}") from None
