"""`modelsync render`: the ModelRefs ModelCatalogSyncs would produce, computed without a cluster.

The input is first checked as the API server checks a create (crds/admission.py: strict
field validation, ObjectMeta, the CRD's structural schema and CEL rules, in its words) and
as the operator checks a spec it then reads (`parse_spec`: what no schema can express, such
as namePattern compiling as RE2); every problem of every sync is reported before any
catalog is contacted.

Each sync is then rendered with the same catalog client, the same version resolution
(spec.pins, versionPolicy and versionSelector: models_needing_lookup, then the model's
versions through look_up_versions) and the same planner (`plan_sync` against no existing
ModelRefs) as the operator. The result is each create body, without
ownerReferences (the sync's uid exists only in a cluster), plus the status block the
operator writes after the create.

A render refuses an inconsistent catalog listing: the ModelRefs it would print are not the
catalog's, and the operator would neither delete nor mark anything on it. A token or CA
Secret given in the input without the opt-in label is used, with a warning that the
operator would refuse it. Unlike the operator, a render runs with its user's own token, so
loopback and private catalog addresses are not refused.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import yaml

from modelsync.api.constants import (
    API_VERSION,
    CATALOG_CREDENTIALS_VALUE,
    KIND_SYNC,
    LABEL_CATALOG_CREDENTIALS,
)
from modelsync.api.modelcatalogsync import ModelCatalogSyncSpec, SecretKeySelector, parse_spec
from modelsync.api.patterns import InvalidPattern, compile_name_pattern
from modelsync.catalog import CatalogClient, ModelListing
from modelsync.catalog.records import ModelRecord
from modelsync.crds import crd_documents
from modelsync.crds.admission import CrdValidator, Problem
from modelsync.plan import (
    ModelFailure,
    SyncPlan,
    SyncRef,
    VersionResolution,
    compile_rules,
    models_needing_lookup,
    plan_sync,
)
from modelsync.runtime.catalog_reads import (
    CatalogAccess,
    catalog_client_for,
    catalog_filters,
    look_up_versions,
)
from modelsync.runtime.hosts import AllowedHosts

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "EXIT_CATALOG",
    "EXIT_INVALID",
    "EXIT_USAGE",
    "PATTERN_MEANINGS",
    "RenderError",
    "RenderInput",
    "RenderResult",
    "RenderTarget",
    "SourceDocument",
    "ValidSync",
    "claimed_twice",
    "load_documents",
    "render",
    "rendered_modelrefs",
    "resolve_target",
    "sync_validator",
    "to_json",
    "to_yaml",
    "validate_syncs",
]

DEFAULT_TOKEN_ENV = "MODELSYNC_TOKEN"  # noqa: S105 - the name of a variable

# Exit statuses: 0 rendered; 1 the input is invalid (every problem printed); 2 a usage error
# (an unreadable file, a missing token or flag); 3 the catalog could not be listed as needed.
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2
EXIT_CATALOG: Final = 3

JsonDict = dict[str, Any]


class RenderError(Exception):
    """A render that cannot go on, with its exit status (EXIT_*). Messages never contain the
    token."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SourceDocument:
    """A Kubernetes object from the input: its source (a file name or "<stdin>") and where
    in it ("document 2", or "document 1, item 3" in a `kind: List`)."""

    source: str
    position: str
    body: Mapping[str, Any]

    @property
    def where(self) -> str:
        """How problem lines name the object: `file: Kind "name"`, else its position."""
        name = _mapping(self.body.get("metadata")).get("name")
        kind = self.body.get("kind")
        if isinstance(name, str) and name:
            return f'{self.source}: {kind} "{name}"'
        return f"{self.source}: {self.position} ({kind})"


@dataclass(frozen=True)
class RenderInput:
    """The ModelCatalogSyncs and Secrets of the input, and the input's unreadable parts."""

    syncs: tuple[SourceDocument, ...]
    secrets: tuple[Mapping[str, Any], ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidSync:
    """A sync the API server and the operator would both accept, as the server stores it."""

    document: SourceDocument
    name: str
    namespace: str
    spec: ModelCatalogSyncSpec


@dataclass(frozen=True)
class RenderTarget:
    """A validated sync with its credentials, ready to list the catalog."""

    name: str
    namespace: str
    spec: ModelCatalogSyncSpec
    token: str = field(repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    plan: SyncPlan
    listing: ModelListing

    @property
    def failures(self) -> tuple[ModelFailure, ...]:
        return self.plan.failures


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# -- reading the input --------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML read as kubectl reads it into JSON: a key given twice is an error, keys become
    strings, and dates stay strings (no YAML timestamps: JSON has none)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[str] = set()
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _json_key(self.construct_object(key_node, deep=True))
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {json.dumps(key)} already set in map", key_node.start_mark
                )
            seen.add(key)
            out[key] = self.construct_object(value_node, deep=deep)
        return out


# No implicit timestamps: `date: 2024-01-01` stays a string, as in JSON.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _documents(source: str, text: str) -> tuple[list[SourceDocument], list[str]]:
    try:
        loaded = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        return [], [f"{source}: not valid YAML: {detail}"]
    docs: list[SourceDocument] = []
    problems: list[str] = []
    for number, doc in enumerate(loaded, start=1):
        if doc is None:
            continue
        position = f"document {number}"
        if not isinstance(doc, Mapping):
            problems.append(f"{source}: {position}: not a Kubernetes object (a YAML mapping)")
        elif doc.get("kind") == "List":  # `kubectl get -o yaml` output
            for item_number, item in enumerate(doc.get("items") or (), start=1):
                where = f"{position}, item {item_number}"
                if isinstance(item, Mapping):
                    docs.append(SourceDocument(source, where, item))
                else:
                    problems.append(f"{source}: {where}: not a Kubernetes object")
        else:
            docs.append(SourceDocument(source, position, doc))
    return docs, problems


def load_documents(sources: Iterable[tuple[str, str]]) -> RenderInput:
    """The ModelCatalogSyncs and Secrets in `(source name, YAML text)` pairs; other kinds
    are ignored, unreadable YAML is listed in `problems`."""
    syncs: list[SourceDocument] = []
    secrets: list[Mapping[str, Any]] = []
    problems: list[str] = []
    for source, text in sources:
        docs, found = _documents(source, text)
        problems += found
        for doc in docs:
            kind, api_version = doc.body.get("kind"), doc.body.get("apiVersion")
            if kind == KIND_SYNC:
                syncs.append(doc)
            elif kind == "Secret" and api_version == "v1":
                secrets.append(doc.body)
    return RenderInput(tuple(syncs), tuple(secrets), tuple(problems))


# -- validation ---------------------------------------------------------------------------


@functools.cache
def sync_validator() -> CrdValidator:
    """The API server's checks of the packaged ModelCatalogSync CRD."""
    for crd in crd_documents():
        if crd["spec"]["names"]["kind"] == KIND_SYNC:
            return CrdValidator(crd)
    raise LookupError(f"no {KIND_SYNC} CRD among the packaged CRDs")  # pragma: no cover


# What each `pattern` of the ModelCatalogSync spec means, added to the API server's message,
# which shows only the regular expression (a test fails on a pattern missing here).
PATTERN_MEANINGS: Final[Mapping[str, str]] = {
    "spec.catalog.url": (
        "an http(s) URL: scheme://host[:port] and an optional path; no user info, query or fragment"
    ),
    "spec.catalog.apiPath": "a path starting with '/', without spaces, '?' or '#'",
    "spec.catalog.tokenSecretRef.name": "a Secret name: lowercase letters, digits, '-' and '.'",
    "spec.catalog.tokenSecretRef.key": "a Secret key: letters, digits, '-', '_' and '.'",
    "spec.catalog.caSecretRef.name": "a Secret name: lowercase letters, digits, '-' and '.'",
    "spec.catalog.caSecretRef.key": "a Secret key: letters, digits, '-', '_' and '.'",
    "spec.interval": "a duration such as 30s, 5m or 1h30m (units h, m, s, ms, us, ns)",
    "spec.pins.*.model": (
        "a model as <ml_repo>/<name>, e.g. fraud/scorer: two parts without '/', ',' or spaces"
    ),
    "spec.webhook.secretRef.name": "a Secret name: lowercase letters, digits, '-' and '.'",
    "spec.webhook.secretRef.key": "a Secret key: letters, digits, '-', '_' and '.'",
}
_ITEM_INDEX: Final = re.compile(r"\[[0-9]+\]")


def _readable(problem: Problem) -> str:
    text = str(problem)
    meaning = PATTERN_MEANINGS.get(_ITEM_INDEX.sub(".*", problem.field))
    if meaning and " in body should match '" in problem.text:
        return f"{text} (expected {meaning})"
    return text


_OPERATOR_SAYS: Final = "the API server accepts it, but the operator would set Stalled InvalidSpec"


def _operator_check(
    spec: Mapping[str, Any], *, admitted: bool
) -> tuple[ModelCatalogSyncSpec | None, list[str]]:
    """The spec as the operator reads it, or what it refuses in it. After the API server's
    refusal only the operator's own checks (which no server runs) are looked at, so that
    nothing is reported twice."""
    if admitted:
        parsed, errors = parse_spec(spec)
        problems = [f"{error} ({_OPERATOR_SAYS})" for error in errors]
        return (None if problems else parsed), problems
    pattern = _mapping(spec.get("select")).get("namePattern")
    if isinstance(pattern, str):
        try:
            compile_name_pattern(pattern)
        except InvalidPattern as exc:
            return None, [f"spec.select.namePattern: invalid regular expression: {exc}"]
    return None, []


def validate_syncs(
    given: RenderInput, *, namespace: str | None = None, validator: CrdValidator | None = None
) -> tuple[list[ValidSync], list[str]]:
    """Each sync checked as the API server checks a create and as the operator checks a spec:
    the valid ones, and a line per problem (`file: ModelCatalogSync "name": problem`). A sync
    given twice (same namespace and name; `namespace` overrides theirs) is a problem too."""
    validator = validator or sync_validator()
    problems = list(given.problems)
    valid: list[ValidSync] = []
    seen: dict[tuple[str, str], SourceDocument] = {}
    for doc in given.syncs:
        admission = validator.admit(doc.body)
        found = [_readable(p) for p in admission.problems]
        stored = admission.stored or {}
        meta = _mapping(stored.get("metadata"))
        name = meta.get("name")
        if stored and not name and meta.get("generateName"):
            found.append(
                "metadata.name: Required value: a render needs the name (generateName gives "
                "one only in a cluster)"
            )
        spec, refused = _operator_check(_mapping(stored.get("spec")), admitted=admission.ok)
        found += refused
        target_ns = namespace or str(meta.get("namespace") or "default")
        if isinstance(name, str) and name:
            first = seen.setdefault((target_ns, name), doc)
            if first is not doc:
                found.append(
                    f"{KIND_SYNC} {target_ns}/{name} is given twice (also in {first.source}, "
                    f"{first.position}); a cluster keeps only the last one applied"
                )
        problems += [f"{doc.where}: {line}" for line in found]
        if not found and spec is not None and isinstance(name, str):
            valid.append(ValidSync(doc, name, target_ns, spec))
    if not given.syncs and not given.problems:
        problems.append(f"no {KIND_SYNC} ({API_VERSION}) in the input")
    return valid, problems


# -- credentials --------------------------------------------------------------------------


def _secret_value(
    secrets: Sequence[Mapping[str, Any]],
    namespace: str,
    ref: SecretKeySelector,
    what: str,
    warnings: list[str] | None = None,
) -> str | None:
    """The key of a Secret document in `namespace` (documents without a namespace match any),
    or None when no such Secret was given. A Secret without the opt-in label adds a line to
    `warnings`."""
    for secret in secrets:
        meta = _mapping(secret.get("metadata"))
        if meta.get("name") != ref.name or meta.get("namespace") not in (None, namespace):
            continue
        labels = _mapping(meta.get("labels"))
        if warnings is not None and labels.get(LABEL_CATALOG_CREDENTIALS) != (
            CATALOG_CREDENTIALS_VALUE
        ):
            warnings.append(
                f'Secret "{ref.name}" lacks the label {LABEL_CATALOG_CREDENTIALS}='
                f'"{CATALOG_CREDENTIALS_VALUE}": the operator will not use it and the sync '
                "will be Stalled (SecretNotOptedIn); add the label "
                f"(kubectl label secret {ref.name} "
                f"{LABEL_CATALOG_CREDENTIALS}={CATALOG_CREDENTIALS_VALUE})"
            )
        string_data = _mapping(secret.get("stringData"))
        if isinstance(string_data.get(ref.key), str):
            return str(string_data[ref.key])
        data = _mapping(secret.get("data"))
        encoded = data.get(ref.key)
        if isinstance(encoded, str):
            try:
                return base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise RenderError(
                    f'{what}: Secret "{ref.name}" key "{ref.key}" is not valid base64 UTF-8',
                    EXIT_INVALID,
                ) from None
        raise RenderError(f'{what}: Secret "{ref.name}" has no key "{ref.key}"', EXIT_INVALID)
    return None


def resolve_target(
    sync: ValidSync,
    secrets: Sequence[Mapping[str, Any]] = (),
    *,
    environ: Mapping[str, str],
    token_env: str = DEFAULT_TOKEN_ENV,
    allowed_hosts: AllowedHosts,
) -> RenderTarget:
    """The sync with its token: the `token_env` variable if set, else the referenced Secret
    among the input documents; its catalog URL must be allowed."""
    spec = sync.spec
    what = f"{KIND_SYNC} {sync.namespace}/{sync.name}"
    refusal = allowed_hosts.check(spec.catalog.url)
    if refusal is not None:
        raise RenderError(f"{what}: {refusal}")
    warnings: list[str] = []
    token = environ.get(token_env) or _secret_value(
        secrets, sync.namespace, spec.catalog.token_secret_ref, what, warnings
    )
    if not token:
        ref = spec.catalog.token_secret_ref
        raise RenderError(
            f"{what}: no catalog token: set ${token_env}, or give the Secret "
            f'"{ref.name}" (key "{ref.key}") in the input'
        )
    ca_pem = None
    if spec.catalog.ca_secret_ref is not None:
        ca_ref = spec.catalog.ca_secret_ref
        ca_pem = _secret_value(secrets, sync.namespace, ca_ref, what, warnings)
        if ca_pem is None:
            raise RenderError(
                f'{what}: spec.catalog.caSecretRef names Secret "{ca_ref.name}"; give it in '
                "the input"
            )
    return RenderTarget(sync.name, sync.namespace, spec, token, ca_pem, tuple(warnings))


async def _resolve_versions(
    client: CatalogClient, spec: ModelCatalogSyncSpec, models: Sequence[ModelRecord]
) -> dict[str, VersionResolution]:
    rules = compile_rules(spec)
    pending = models_needing_lookup(models, rules, select=spec.select)
    lookups = await look_up_versions(client, pending, rules)
    if lookups.failed:
        # The operator would leave such a model alone and retry; a one-shot render
        # cannot, and a partial answer would mislead.
        model, exc = next(iter(lookups.failed.values()))
        raise RenderError(f"version lookup for model {model.fqn} failed: {exc}", EXIT_CATALOG)
    return lookups.results


async def render(target: RenderTarget, *, now: datetime, attempts: int = 4) -> RenderResult:
    """List the catalog and plan the sync as a first sync into an empty namespace.

    Raises CatalogError when the listing fails, RenderError for an inconsistent listing or a
    failed version lookup (EXIT_CATALOG) or an unusable token or CA bundle (EXIT_USAGE).
    """
    spec = target.spec
    try:
        client = catalog_client_for(
            CatalogAccess.of(spec, target.token, target.ca_pem), attempts=attempts
        )
    except ValueError as exc:  # a bad CA bundle, token or URL; no message quotes the token
        raise RenderError(str(exc)) from None
    async with client:
        listing = await client.list_models(catalog_filters(spec))
        if not listing.complete:
            raise RenderError(
                f"the catalog's listing is inconsistent ({listing.inconsistency}); the "
                "ModelRefs would not be the catalog's, so none are printed (the operator "
                "reports InconsistentListing and deletes or marks nothing)",
                EXIT_CATALOG,
            )
        resolutions = await _resolve_versions(client, spec, listing.models)
    plan = plan_sync(
        listing.models,
        spec,
        [],
        sync=SyncRef(target.name, target.namespace, uid=""),
        now=now,
        resolutions=resolutions,
        listing_complete=listing.complete,
        listing_problem=listing.inconsistency,
        skipped_model_ids=[s.id for s in listing.skipped if s.id is not None],
    )
    return RenderResult(plan, listing)


def rendered_modelrefs(plan: SyncPlan, *, with_status: bool = True) -> list[JsonDict]:
    """The plan's create bodies without ownerReferences, each with the status the operator
    writes right after creating it (unless `with_status` is false). Ordered by name."""
    docs: list[JsonDict] = []
    for create in sorted(plan.creates, key=lambda c: c.name):
        body = copy.deepcopy(create.body)
        body["metadata"].pop("ownerReferences", None)
        if with_status:
            body["status"] = copy.deepcopy(create.status["status"])
        docs.append(body)
    return docs


def claimed_twice(
    rendered: Sequence[tuple[RenderTarget, Sequence[Mapping[str, Any]]]],
) -> list[str]:
    """ModelRefs that two syncs would both write (same namespace and name): the operator
    gives each to the sync that creates it first and reports OwnedByAnotherSync on the other,
    so the output would depend on timing."""
    owners: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for target, docs in rendered:
        sync = f"{target.namespace}/{target.name}"
        for doc in docs:
            meta = doc["metadata"]
            key = (str(meta["namespace"]), str(meta["name"]))
            first = owners.setdefault(key, sync)
            if first != sync:
                problems.append(
                    f"ModelRef {key[0]}/{key[1]} would be written by both {KIND_SYNC} {first} "
                    f"and {sync}; the operator gives it to one and reports OwnedByAnotherSync "
                    "on the other: narrow one of the two selections"
                )
    return problems


def header(target: RenderTarget, result: RenderResult, count: int) -> list[str]:
    # No time stamp: the same catalog renders to the same bytes (clean Git diffs with --no-status).
    return [
        f"ModelRefs of {KIND_SYNC} {target.namespace}/{target.name}, "
        "rendered by `modelsync render`",
        f"from {target.spec.catalog.url}: {len(result.listing.models)} models listed, "
        f"{count} ModelRefs.",
        "No ownerReferences: the ModelCatalogSync's uid exists only in a cluster. Applied as",
        "they are, the operator adopts them (managed-by label) and adds its own reference.",
        "`status` is what the operator writes; the API server ignores it on create and apply.",
    ]


_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")


def _has_unicode_break(value: Any) -> bool:
    if isinstance(value, str):
        return any(c in value for c in _UNICODE_BREAKS)
    if isinstance(value, Mapping):
        return any(_has_unicode_break(k) or _has_unicode_break(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unicode_break(v) for v in value)
    return False


def to_yaml(docs: Sequence[Mapping[str, Any]], comments: Sequence[str] = ()) -> str:
    """Multi-document YAML, each document starting with `---`, after `#` comment lines."""
    head = "".join(f"# {line}\n" for line in comments)
    if not docs:
        return head
    plain = [dict(d) for d in docs]
    body = yaml.safe_dump_all(
        plain,
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        # PyYAML writes NEL/LS/PS unescaped when allowed Unicode, and then misreads them.
        allow_unicode=not _has_unicode_break(plain),
        width=100,
    )
    return head + body


def to_json(docs: Sequence[Mapping[str, Any]]) -> str:
    """The documents as one `kind: List`, as `kubectl get -o json` prints several objects
    (keys sorted, four-space indent)."""
    listing = {
        "apiVersion": "v1",
        "items": list(docs),
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    return json.dumps(listing, indent=4, sort_keys=True, ensure_ascii=False) + "\n"
