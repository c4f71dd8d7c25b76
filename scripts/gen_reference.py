"""Generate docs/reference.md from the CustomResourceDefinitions in crds/.

    python scripts/gen_reference.py                      # rewrite docs/reference.md
    python scripts/gen_reference.py --check              # exit 1 if it is stale
    python scripts/gen_reference.py --list-undocumented  # fields without a description (exit 1)

The output depends only on the CRD files (schema order is kept), so it is stable
across runs and machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FieldDoc",
    "iter_fields",
    "load_crds",
    "main",
    "render_reference",
    "undocumented_fields",
]

ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = ROOT / "crds"
OUTPUT = ROOT / "docs" / "reference.md"

# Present on every object and documented by Kubernetes itself.
_STANDARD_ROOT_FIELDS = ("apiVersion", "kind", "metadata")

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class FieldDoc:
    """One row of a field table; empty strings where the schema says nothing."""

    path: str
    type: str
    required: bool
    default: str
    validation: str
    description: str


def load_crds(directory: Path) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in `directory`/*.yaml, ordered by file name."""
    crds: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    return crds


def _code(text: str) -> str:
    """`text` as a one-line Markdown code span (put it through _cell inside a table)."""
    text = text.replace("\r", " ").replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    """One table cell: on one line, pipes escaped (GitHub Markdown unescapes them, code
    spans included)."""
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|").strip()


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _type_of(schema: Schema) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(schema.get("type", ""))
    if kind == "array":
        items = schema.get("items")
        return "[]" + (_type_of(items) if isinstance(items, Mapping) else "any")
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, Mapping):
            return f"map[string]{_type_of(values)}"
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            return "object (free-form)"
        return "object"
    if not kind:
        return "any"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else kind


def _validation(schema: Schema) -> str:
    rules: list[str] = []
    if "enum" in schema:
        rules.append("one of " + ", ".join(_code(_literal(v)) for v in schema["enum"]))
    if "pattern" in schema:
        rules.append("pattern " + _code(str(schema["pattern"])))
    for key, word in (
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("minProperties", "min properties"),
        ("maxProperties", "max properties"),
        ("multipleOf", "multiple of"),
    ):
        if key in schema:
            exclusive = schema.get(f"exclusive{key[0].upper()}{key[1:]}") is True
            rules.append(f"{word} {_literal(schema[key])}{' (exclusive)' if exclusive else ''}")
    if schema.get("uniqueItems"):
        rules.append("unique items")
    if schema.get("nullable"):
        rules.append("nullable")
    list_type = schema.get("x-kubernetes-list-type")
    if list_type:
        keys = schema.get("x-kubernetes-list-map-keys")
        suffix = f" keyed by {', '.join(_code(str(k)) for k in keys)}" if keys else ""
        rules.append(f"list type {_code(str(list_type))}{suffix}")
    if schema.get("x-kubernetes-preserve-unknown-fields") and schema.get("properties"):
        rules.append("unknown fields kept")
    for check in schema.get("x-kubernetes-validations") or ():
        message = check.get("message") or check.get("messageExpression")
        rule = "rule " + _code(str(check.get("rule", "")))
        rules.append(f"{rule}: {message}" if message else rule)
    return "; ".join(rules)


def iter_fields(schema: Schema, prefix: str = "", *, root: bool = True) -> Iterator[FieldDoc]:
    """Every field below `schema`, depth first in schema order.

    Array items are written `field[]`, map values `field.<key>`. At the root the standard
    apiVersion/kind/metadata fields are left out.
    """
    required = set(schema.get("required") or ())
    for name, child in (schema.get("properties") or {}).items():
        if root and name in _STANDARD_ROOT_FIELDS:
            continue
        path = f"{prefix}.{name}" if prefix else name
        yield FieldDoc(
            path=path,
            type=_type_of(child),
            required=name in required,
            default=_literal(child["default"]) if "default" in child else "",
            validation=_validation(child),
            description=str(child.get("description", "")),
        )
        yield from _children(child, path)


def _children(schema: Schema, path: str) -> Iterator[FieldDoc]:
    yield from iter_fields(schema, path, root=False)
    items = schema.get("items")
    if isinstance(items, Mapping):
        if items.get("properties"):
            yield from _children(items, f"{path}[]")
        elif _validation(items) or items.get("description"):
            yield FieldDoc(
                path=f"{path}[]",
                type=_type_of(items),
                required=False,
                default=_literal(items["default"]) if "default" in items else "",
                validation=_validation(items),
                description=str(items.get("description", "")),
            )
    values = schema.get("additionalProperties")
    if isinstance(values, Mapping) and values.get("properties"):
        yield from _children(values, f"{path}.<key>")


def _field_table(fields: Sequence[FieldDoc]) -> list[str]:
    lines = [
        "| Field | Type | Required | Default | Validation | Description |",
        "|---|---|---|---|---|---|",
    ]
    for f in fields:
        cells = [
            _code(f.path),
            f.type,
            "yes" if f.required else "",
            _code(f.default) if f.default else "",
            f.validation,
            f.description,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _columns_table(columns: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| Column | Type | JSONPath | Shown | Description |",
        "|---|---|---|---|---|",
    ]
    for col in columns:
        shown = "always" if int(col.get("priority", 0)) == 0 else "with `-o wide`"
        cells = [
            str(col["name"]),
            str(col.get("type", "")),
            _code(str(col["jsonPath"])),
            shown,
            str(col.get("description", "")),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _render_crd(crd: Mapping[str, Any]) -> list[str]:
    spec = crd["spec"]
    names = spec["names"]
    group = spec["group"]
    lines = [f"## {names['kind']}", ""]
    facts = [
        ("Group", _code(group)),
        ("Scope", str(spec["scope"])),
        ("Plural", _code(str(names["plural"]))),
        ("Short names", ", ".join(_code(str(s)) for s in names.get("shortNames") or ())),
        ("Categories", ", ".join(_code(str(c)) for c in names.get("categories") or ())),
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {label} | {_cell(value) or '(none)'} |" for label, value in facts]
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        subresources = ", ".join(_code(s) for s in (version.get("subresources") or {}))
        state = "served" if version.get("served") else "not served"
        if version.get("storage"):
            state += ", storage"
        lines += ["", f"### {group}/{version['name']}", ""]
        lines += [f"{schema.get('description', '').strip()}", ""] if "description" in schema else []
        lines += [f"Version {state}. Subresources: {subresources or '(none)'}.", ""]
        columns = version.get("additionalPrinterColumns") or ()
        if columns:
            lines += ["#### Printer columns", "", *_columns_table(columns), ""]
            lines += ["`kubectl get` also shows NAME first.", ""]
        lines += ["#### Fields", ""]
        lines += ["Besides the standard `apiVersion`, `kind` and `metadata`:", ""]
        lines += _field_table(list(iter_fields(schema)))
    lines.append("")
    return lines


def render_reference(crds: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "<!-- Generated by scripts/gen_reference.py from crds/*.yaml: do not edit by hand. -->",
        "",
        "# API reference",
        "",
        "The custom resources of modelsync, generated from their CustomResourceDefinitions.",
        "Array items are written `field[]`, map values `field.<key>`. Defaults are applied by",
        "the API server. The operator checks a few more rules that a schema cannot express",
        "and reports them as `Stalled=True` (reason `InvalidSpec`).",
        "",
    ]
    lines += [
        f"- [{crd['spec']['names']['kind']}](#{crd['spec']['names']['kind'].lower()})"
        for crd in crds
    ]
    lines.append("")
    for crd in crds:
        lines += _render_crd(crd)
    return "\n".join(lines).rstrip("\n") + "\n"


def undocumented_fields(crds: Sequence[Mapping[str, Any]]) -> list[str]:
    """`Kind.path` of every field (not array items) without a description, the root's
    apiVersion and kind included. The root metadata is not asked for: the API server
    refuses a description there and publishes ObjectMeta's."""
    missing: list[str] = []
    for crd in crds:
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            root = schema.get("properties") or {}
            missing += [
                f"{kind}.{name}"
                for name in ("apiVersion", "kind")
                if name in root and not str(root[name].get("description", "")).strip()
            ]
            for f in iter_fields(schema):
                if not f.description.strip() and not f.path.endswith("[]"):
                    missing.append(f"{kind}.{f.path}")
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--crds", type=Path, default=CRD_DIR, help="folder of CRD YAML files")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown file to write")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if --output is stale")
    mode.add_argument(
        "--list-undocumented",
        action="store_true",
        help="print fields without a description; exit 1 if there are any",
    )
    args = parser.parse_args(argv)
    crds = load_crds(args.crds)
    if not crds:
        print(f"no CustomResourceDefinition found in {args.crds}", file=sys.stderr)
        return 2
    if args.list_undocumented:
        missing = undocumented_fields(crds)
        for name in missing:
            print(name)
        return 1 if missing else 0
    text = render_reference(crds)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale: run python scripts/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
