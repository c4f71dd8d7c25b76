"""The CRD files: valid CRD objects, structural schemas, names that match the constants."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from api.crd_schema import load_crd, openapi_schema, to_json_schema, validator
from modelsync.api import constants as c

CRDS = {
    "modelcatalogsyncs.yaml": (c.KIND_SYNC, c.PLURAL_SYNC, c.SINGULAR_SYNC, c.SHORT_NAME_SYNC),
    "modelrefs.yaml": (
        c.KIND_MODELREF,
        c.PLURAL_MODELREF,
        c.SINGULAR_MODELREF,
        c.SHORT_NAME_MODELREF,
    ),
}


@pytest.mark.parametrize("filename", sorted(CRDS))
@pytest.mark.parametrize("k8s_version", ["1.30.0", "1.32.0", kubernetes_validate.latest_version()])
def test_crd_is_a_valid_kubernetes_object(filename: str, k8s_version: str) -> None:
    kubernetes_validate.validate(load_crd(filename), k8s_version, strict=True)


@pytest.mark.parametrize("filename", sorted(CRDS))
def test_names_match_constants(filename: str) -> None:
    kind, plural, singular, short = CRDS[filename]
    crd = load_crd(filename)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{plural}.{c.GROUP}"
    assert spec["group"] == c.GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular,
        "shortNames": [short],
        "categories": [c.CATEGORY],
    }
    (version,) = spec["versions"]
    assert version["name"] == c.VERSION
    assert version["served"]
    assert version["storage"]
    assert version["subresources"] == {"status": {}}


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("filename", sorted(CRDS))
def test_schema_is_structural(filename: str) -> None:
    """The rules the API server applies before accepting a CRD. (Its CEL checks, compiling
    and costing each rule, need the real server: test_cel_rules installs the CRDs there.)"""
    root = openapi_schema(load_crd(filename))
    for path, node in _walk(root):
        assert "type" in node, f"{path}: every node needs a type"
        assert not {"anyOf", "oneOf", "allOf", "not", "$ref"} & node.keys(), path
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["rule"].strip(), path
            assert rule["message"].strip(), f"{path}: every CEL rule says what is wrong"
        assert not ("properties" in node and "additionalProperties" in node), path
        if "default" in node:
            jsonschema.validate(node["default"], to_json_schema(node))
        if node.get("x-kubernetes-list-type") == "map":
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in node["items"]["required"], f"{path}: map key {key} must be required"
        if "pattern" in node:
            assert node["pattern"].startswith("^"), path
            assert node["pattern"].endswith("$"), path
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}


READY_FILTER = '.status.conditions[?(@.type=="Ready")].'


def _schema_at(root: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    node = root
    if json_path.startswith(READY_FILTER):
        node = root["properties"]["status"]["properties"]["conditions"]["items"]
        json_path = json_path.removeprefix(READY_FILTER)
    for part in json_path.lstrip(".").split("."):
        if part not in node.get("properties", {}):
            return None
        node = node["properties"][part]
    return node


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "modelrefs.yaml",
            ["Model", "Version", "Alias", "Framework", "Pinned", "Ready", "Reason", "Age"],
        ),
        (
            "modelcatalogsyncs.yaml",
            ["URL", "Models", "Ready", "Reason", "Last Sync", "Age", "Message"],
        ),
    ],
)
def test_printer_columns(filename: str, expected: list[str]) -> None:
    (version,) = load_crd(filename)["spec"]["versions"]
    root = openapi_schema(load_crd(filename))
    columns = version["additionalPrinterColumns"]
    assert [col["name"] for col in columns] == expected
    for col in columns:
        assert col.get("priority", 0) == (1 if col["name"] in ("Reason", "Message") else 0)
        if col["jsonPath"] == ".metadata.creationTimestamp":
            assert col["type"] == "date"
            continue
        target = _schema_at(root, col["jsonPath"])
        assert target is not None, f"{col['jsonPath']} is not in the schema"
        if col["name"] in ("Ready", "Reason", "Message"):
            assert col["jsonPath"].startswith(READY_FILTER)
            continue
        wanted = {
            "integer": ("integer", None),
            "boolean": ("boolean", None),
            "date": ("string", "date-time"),
        }
        schema_type, schema_format = wanted.get(col["type"], ("string", None))
        assert target["type"] == schema_type, col
        if schema_format:
            assert target.get("format") == schema_format, col


def test_sync_select_frameworks_are_the_catalog_framework_types() -> None:
    root = openapi_schema(load_crd("modelcatalogsyncs.yaml"))
    frameworks = root["properties"]["spec"]["properties"]["select"]["properties"]["frameworks"]
    assert frameworks["items"]["enum"] == [f.value for f in c.FrameworkType]
    assert len(frameworks["items"]["enum"]) == 14


def test_interval_pattern_accepts_go_durations_and_nothing_else() -> None:
    root = openapi_schema(load_crd("modelcatalogsyncs.yaml"))
    check = validator(root["properties"]["spec"]["properties"]["interval"])
    for good in ["10s", "5m", "1h30m", "1.5h", "250ms", "90s", "1h0m0s", "10\u00b5s", "1us"]:
        assert check.is_valid(good), good
    for bad in ["", "5", "m", "5 m", "-5m", "5m\n", "1d", ".5s", "5M", "+5m"]:
        assert not check.is_valid(bad), bad


def test_kubernetes_validate_catches_a_broken_crd() -> None:
    """Guards the test above: the validator really looks at the CRD's fields."""
    crd = load_crd("modelrefs.yaml")
    crd["spec"]["versions"][0]["servd"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(crd, "1.32.0", strict=True)
