"""docs/reference.md is generated from the CRDs and up to date; the generator is complete and
its tables stay well-formed whatever the schemas contain."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.manifests import CRD_DIR, ROOT


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "scripts" / "gen_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def test_reference_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code = gen.main(["--check"])
    assert code == 0, capsys.readouterr().err + " (run: python scripts/gen_reference.py)"


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    output = tmp_path / "reference.md"
    assert gen.main(["--check", "--output", str(output)]) == 1  # missing
    assert gen.main(["--output", str(output)]) == 0
    assert gen.main(["--check", "--output", str(output)]) == 0
    output.write_text(output.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert gen.main(["--check", "--output", str(output)]) == 1


def test_list_undocumented_names_fields_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gen.main(["--list-undocumented"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out == ""
    crd = gen.load_crds(CRD_DIR)[0]
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    del schema["properties"]["kind"]["description"]
    del schema["properties"]["spec"]["properties"]["suspend"]["description"]
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(crd), encoding="utf-8")
    assert gen.main(["--list-undocumented", "--crds", str(tmp_path)]) == 1
    kind = crd["spec"]["names"]["kind"]
    assert capsys.readouterr().out.split() == [f"{kind}.kind", f"{kind}.spec.suspend"]


def test_descriptions_are_rendered() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    for crd in gen.load_crds(CRD_DIR):
        for version in crd["spec"]["versions"]:
            for row in gen.iter_fields(version["schema"]["openAPIV3Schema"]):
                if row.path.endswith("[]"):
                    continue  # a list's items: the list's own row describes them
                assert row.description, row.path
                assert gen._cell(row.description) in text, row.path


def _paths(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every property path, written independently of the generator."""
    for name, child in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from _paths(child, path)
        items = child.get("items") or {}
        yield from _paths(items, f"{path}[]")
        values = child.get("additionalProperties")
        if isinstance(values, dict):
            yield from _paths(values, f"{path}.<key>")


def test_every_crd_field_and_printer_column_is_documented() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    for crd in gen.load_crds(CRD_DIR):
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            for path in _paths(schema):
                if path.split(".")[0] in ("apiVersion", "kind", "metadata"):
                    continue
                assert f"| `{path}` |" in text, path
            for column in version.get("additionalPrinterColumns") or ():
                assert f"`{column['jsonPath']}`" in text, column["name"]
        assert f"## {crd['spec']['names']['kind']}\n" in text


def test_rows_carry_type_default_and_validation() -> None:
    crd = next(
        c for c in gen.load_crds(CRD_DIR) if c["spec"]["names"]["kind"] == "ModelCatalogSync"
    )
    rows = {
        f.path: f for f in gen.iter_fields(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    }
    assert rows["spec.catalog.pageSize"].type == "integer"
    assert rows["spec.catalog.pageSize"].default == "100"
    assert rows["spec.catalog.pageSize"].validation == "minimum 1; maximum 1000"
    assert rows["spec.catalog"].required
    assert not rows["spec.select"].required
    assert rows["spec.modelRefTemplate.labels"].type == "map[string]string"
    assert rows["status.conditions"].type == "[]object"
    assert "keyed by `type`" in rows["status.conditions"].validation
    assert "`True`" in rows["status.conditions[].status"].validation


# -- properties over generated schemas --------------------------------------------

_names = st.from_regex(r"[a-z][a-zA-Z0-9]{0,8}", fullmatch=True)
_text = st.text(
    alphabet=st.sampled_from("ab |`\\*_<>\n-"), max_size=12
)  # the characters that break Markdown tables
_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "boolean", "number"])},
    optional={
        "description": _text,
        "pattern": _text,
        "enum": st.lists(_text, min_size=1, max_size=3),
        "default": _text,
        "maximum": st.integers(0, 10),
    },
)


def _object(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    props = st.dictionaries(_names, children, max_size=4)
    plain = st.builds(lambda p: {"type": "object", "properties": p}, props)
    array = st.builds(
        lambda p: {"type": "array", "items": {"type": "object", "properties": p}}, props
    )
    mapping = st.builds(
        lambda p: {"type": "object", "additionalProperties": {"type": "object", "properties": p}},
        props,
    )
    return st.one_of(plain, array, mapping)


_schemas = st.recursive(_leaf, _object, max_leaves=12)
_crds = st.builds(
    lambda props: {
        "spec": {
            "group": "example.dev",
            "scope": "Namespaced",
            "names": {"kind": "Thing", "plural": "things"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": props}},
                }
            ],
        }
    },
    st.dictionaries(_names, _schemas, min_size=1, max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(_crds)
def test_every_generated_field_gets_one_well_formed_row(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    expected = [
        p for p in _paths(schema) if p.split(".")[0] not in ("apiVersion", "kind", "metadata")
    ]
    object_rows = [f.path for f in gen.iter_fields(schema) if not f.path.endswith("[]")]
    assert object_rows == expected
    text = gen.render_reference([crd])
    assert gen.render_reference([crd]) == text
    table = [line for line in text.splitlines() if line.startswith("| `")]
    for line in table:
        # Six cells: unescaped pipes only at the borders between them.
        cells = line.replace("\\|", "").split("|")
        assert len(cells) == 8, line
