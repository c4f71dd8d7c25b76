"""Which Kubernetes permissions the operator needs, read from its source, and which RBAC
rules grant.

The code side parses the operator's modules with `ast` and finds every method of the
official client's API classes (`read_namespaced_secret`, `patch_namespaced_custom_object`,
...), whether called directly or handed to a wrapper such as `KubeApi.call(..., fn, *args)`.
Each method's HTTP method and URL template come from the client itself (its `_<name>_serialize`
source), so the mapping to (apiGroup, resource[/subresource], verb) follows the client, not a
hand-kept table. Group and plural of the custom-object methods are read from the call's
arguments (literals or module-level constants). Anything the checker cannot resolve is an
error, never silently skipped.

Only calls the operator process can make count. `modelsync run` and the modules that only it
runs (OPERATOR_PROCESS) are the roots; shared code (kube/, plan/, ...) counts only for the
functions, classes and methods reachable from them (`CallGraph`: names and module attributes
resolved through imports; a method counts once its class is reached and its name is used).
What only other commands reach, e.g. `modelsync reconcile`, which patches a ModelCatalogSync
with the user's own credentials, needs no grant in the operator's roles. The webhook server
(WEBHOOK_MODULES, on with `--webhook-port`) sets the same annotation: what only it reaches is
granted by deploy/components/webhook, not by the base (`code_permissions(webhook=False)`).

The Kopf side is derived from the registered handlers (`@kopf.on.*` in handlers.py) and
Kopf's own machinery (CRD observation, namespace observation), per its source; Kopf runs
standalone (no peering), which test_rbac checks in cli/kopf_main.py.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.manifests import ROOT

__all__ = [
    "OPERATOR_PROCESS",
    "WEBHOOK_MODULES",
    "CallGraph",
    "Permission",
    "Unit",
    "UnresolvedCall",
    "cli_permissions",
    "client_methods",
    "code_permissions",
    "granted_permissions",
    "kopf_framework_permissions",
    "kopf_handler_permissions",
    "operator_units",
    "owner_reference_permissions",
    "package_graph",
    "permissions_in_source",
    "webhook_permissions",
]

PACKAGE_DIR = ROOT / "operator" / "modelsync"
PACKAGE = "modelsync"
# Modules only the operator process (`modelsync run`) runs: every definition in them is a root.
OPERATOR_PROCESS = ("cli/run.py", "cli/kopf_main.py", "handlers.py", "runtime")
# The webhook server's modules: it runs only with `--webhook-port`, and what it alone needs is
# granted by deploy/components/webhook, not by the base.
WEBHOOK_MODULES = ("modelsync.runtime.webhook",)

_HTTP_VERB = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_VARIANT_SUFFIXES = ("_with_http_info", "_without_preload_content")
# Handlers for which Kopf only watches (as long as they return None); all others make it
# patch the object (progress, finalizers, diff-base annotation) and its status.
_WATCH_ONLY_HANDLERS = frozenset({"event", "index"})
_NON_RESOURCE_HANDLERS = frozenset({"login", "startup", "cleanup", "probe"})
# Admission webhooks make Kopf manage webhook configurations: not modelled here.
_UNMODELLED_HANDLERS = frozenset({"mutate", "validate"})


class UnresolvedCall(Exception):
    """A client call whose permission the checker cannot determine."""


@dataclass(frozen=True, order=True)
class Permission:
    group: str
    resource: str  # plural, or plural/subresource
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}.{self.group or 'core'}"


@dataclass(frozen=True)
class _Endpoint:
    http_method: str
    path: str  # URL template, e.g. /apis/{group}/{version}/namespaces/{namespace}/{plural}


@functools.cache
def _api_sources() -> dict[str, str]:
    """{API class name: source} of the client's API modules, read as text: importing all of
    them takes seconds."""
    spec = importlib.util.find_spec("kubernetes.client.api")
    assert spec is not None
    assert spec.submodule_search_locations
    sources: dict[str, str] = {}
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob("*_api.py")):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"\nclass (\w+Api)\b", text):
                sources[match[1]] = text
    return sources


def _function_source(text: str, name: str) -> str | None:
    start = text.find(f"    def {name}(")
    if start < 0:
        return None
    end = text.find("\n    def ", start + 1)
    return text[start : end if end > 0 else len(text)]


@functools.cache
def _method_index() -> dict[str, list[str]]:
    """{method name: API classes that have it}."""
    index: dict[str, list[str]] = {}
    for class_name, text in _api_sources().items():
        for name in re.findall(r"\n    def _(\w+)_serialize\(", text):
            index.setdefault(name, []).append(class_name)
    return index


@functools.cache
def client_methods(method: str) -> dict[str, _Endpoint]:
    """{API class name: endpoint} of every client API class with this method ({} if none)."""
    pattern = re.compile(r"method='(\w+)',\s*resource_path='([^']+)'")
    found: dict[str, _Endpoint] = {}
    for class_name in _method_index().get(method, ()):
        serialize = _function_source(_api_sources()[class_name], f"_{method}_serialize")
        if serialize is None:
            continue
        hit = pattern.search(serialize)
        if hit is None:
            raise UnresolvedCall(f"cannot read the endpoint of {class_name}.{method}")
        found[class_name] = _Endpoint(hit[1], hit[2])
    return found


def _base_method(name: str) -> str:
    for suffix in _VARIANT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@functools.cache
def _parameters(class_name: str, method: str) -> list[str]:
    """The method's parameter names in order, from its signature in the source."""
    source = _function_source(_api_sources()[class_name], method)
    assert source is not None
    signature = source[: source.index(") ->")]
    return re.findall(r"^ {8}(\w+)\s*:", signature, re.MULTILINE)


def _endpoint_permission(
    endpoint: _Endpoint, values: Mapping[str, str], watch: bool
) -> list[Permission]:
    """The permissions one request needs; [] for discovery and other non-resource URLs."""

    def fill(segment: str) -> str:
        if segment.startswith("{") and segment.endswith("}"):
            key = segment[1:-1]
            if key not in values:
                raise UnresolvedCall(f"no value for {segment} in {endpoint.path}")
            return values[key]
        return segment

    parts = [p for p in endpoint.path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = fill(parts[1]), parts[3:]
    else:
        return []  # /version, /api, /apis: discovery
    if not rest:
        return []
    if rest[0] == "watch":
        rest, watch = rest[1:], True
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[1] == "{namespace}":
        rest = rest[2:]
    resource = fill(rest[0])
    named = len(rest) > 1
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    method = endpoint.http_method
    if method == "GET":
        verb = "get" if named else "list"
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = _HTTP_VERB[method]
    found = [Permission(group, resource, verb)]
    if watch and verb == "list":
        found.append(Permission(group, resource, "watch"))
    return found


class _Scanner(ast.NodeVisitor):
    def __init__(
        self, filename: str, names: Mapping[str, Any], receivers: Mapping[str, str]
    ) -> None:
        self.filename = filename
        self.names = names
        self.receivers = receivers
        self.parents: dict[ast.AST, ast.AST] = {}
        self.found: set[Permission] = set()

    def scan(self, tree: ast.AST) -> set[Permission]:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        self.visit(tree)
        return self.found

    def where(self, node: ast.AST) -> str:
        return f"{self.filename}:{getattr(node, 'lineno', '?')}"

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.names:
            return self.names[node.id]
        raise UnresolvedCall(f"{self.where(node)}: cannot resolve {ast.unparse(node)!r}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic_visit(node)
        method = _base_method(node.attr)
        classes = client_methods(method)
        if not classes:
            return
        class_name = self.api_class(node, method, classes)
        args, keywords, streamed = self.call_arguments(node)
        values: dict[str, str] = {}
        for param, arg in zip(_parameters(class_name, method), args, strict=False):
            if isinstance(arg, ast.Starred):
                raise UnresolvedCall(f"{self.where(node)}: *args passed to {method}")
            if param in ("group", "plural"):
                values[param] = str(self.value(arg))
        watch = streamed
        for kw in keywords:
            if kw.arg in ("group", "plural"):
                values[kw.arg] = str(self.value(kw.value))
            elif kw.arg == "watch":
                watch = watch or bool(self.value(kw.value))
        try:
            self.found.update(_endpoint_permission(classes[class_name], values, watch))
        except UnresolvedCall as exc:
            raise UnresolvedCall(f"{self.where(node)}: {method}: {exc}") from None

    def api_class(self, node: ast.Attribute, method: str, classes: Mapping[str, Any]) -> str:
        receiver = node.value
        key = ""
        if isinstance(receiver, ast.Attribute):
            key = receiver.attr
        elif isinstance(receiver, ast.Name):
            key = receiver.id
        if key in self.receivers:
            class_name = self.receivers[key]
            if class_name not in classes:
                raise UnresolvedCall(f"{self.where(node)}: {class_name} has no {method}")
            return class_name
        if len(classes) == 1:
            return next(iter(classes))
        raise UnresolvedCall(
            f"{self.where(node)}: {method} exists in {sorted(classes)}; "
            f"cannot tell which from {ast.unparse(receiver)!r}"
        )

    def call_arguments(self, node: ast.Attribute) -> tuple[list[ast.expr], list[ast.keyword], bool]:
        """(positional args, keywords, passed to a watch stream) of the request."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.Call):
            if parent.func is node:
                return list(parent.args), list(parent.keywords), False
            if node in parent.args:
                rest = parent.args[parent.args.index(node) + 1 :]
                streamed = isinstance(parent.func, ast.Attribute) and parent.func.attr == "stream"
                return list(rest), list(parent.keywords), streamed
        raise UnresolvedCall(
            f"{self.where(node)}: {node.attr} is used where its arguments cannot be seen"
        )


def permissions_in_source(
    source: str,
    names: Mapping[str, Any],
    receivers: Mapping[str, str],
    filename: str = "<source>",
) -> set[Permission]:
    """Permissions of every client call in `source`.

    `names`: values of module-level names (constants) the calls use; `receivers`: attribute
    or variable name -> client API class name (e.g. {"core": "CoreV1Api"}).
    """
    return _Scanner(filename, names, receivers).scan(ast.parse(source, filename))


@dataclass(frozen=True, order=True)
class Unit:
    """One definition: a top-level function or class, a method ("Class.method"), or the
    module's own top-level statements ("<module>")."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"


MODULE_BODY = "<module>"


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    units: dict[str, list[ast.stmt]]  # unit name -> its statements
    decorated: set[str]  # top-level definitions with decorators: they run on import
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, attribute or None)


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class CallGraph:
    """Which definitions of a package the code reachable from some roots can run.

    References are names (resolved through the module's imports, re-exports followed) and
    `module.attribute` chains; a class brings in its methods whose names appear as an
    attribute anywhere in reached code (dunders always). Unknown names (builtins,
    third-party) are ignored: they cannot reach this package's client calls.
    """

    def __init__(self, package_dir: Path, package: str) -> None:
        self.package_dir = package_dir
        self.package = package
        self.modules: dict[str, _Module] = {}
        for path in sorted(package_dir.rglob("*.py")):
            name = self._module_name(path)
            self.modules[name] = self._load(name, path)

    def _module_name(self, path: Path) -> str:
        parts = [self.package, *path.relative_to(self.package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def _load(self, name: str, path: Path) -> _Module:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        units: dict[str, list[ast.stmt]] = {MODULE_BODY: []}
        decorated: set[str] = set()
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                units[stmt.name] = [stmt]
                if stmt.decorator_list:
                    decorated.add(stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                header: list[ast.stmt] = []
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        units[f"{stmt.name}.{item.name}"] = [item]
                    else:
                        header.append(item)
                # The class statement without its methods: bases, decorators, attributes.
                units[stmt.name] = [
                    ast.ClassDef(
                        name=stmt.name,
                        bases=stmt.bases,
                        keywords=stmt.keywords,
                        body=header or [ast.Pass()],
                        decorator_list=stmt.decorator_list,
                    )
                ]
                if stmt.decorator_list:
                    decorated.add(stmt.name)
            else:
                units[MODULE_BODY].append(stmt)
        return _Module(name, path, tree, units, decorated, self._imports(name, path, tree))

    def _imports(
        self, name: str, path: Path, tree: ast.Module
    ) -> dict[str, tuple[str, str | None]]:
        package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        found[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        found[top] = (top, None)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package_parts[: len(package_parts) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    found[alias.asname or alias.name] = (base, alias.name)
        return found

    # -- resolution ------------------------------------------------------------------

    def _resolve_in(self, module: str, name: str, depth: int = 0) -> Unit | str | None:
        """`name` looked up in `module`: a Unit, a module name, or None (not ours)."""
        if depth > 20:
            return None
        if f"{module}.{name}" in self.modules:
            return f"{module}.{name}"
        found = self.modules.get(module)
        if found is None:
            return None
        if name in found.units and name != MODULE_BODY:
            return Unit(module, name)
        if name in found.imports:
            return self._resolve_import(found.imports[name], depth + 1)
        return None

    def _resolve_import(self, target: tuple[str, str | None], depth: int) -> Unit | str | None:
        module, attribute = target
        if attribute is None:
            return module if module in self.modules or module == self.package else None
        return self._resolve_in(module, attribute, depth)

    def _resolve_name(self, module: _Module, name: str) -> Unit | str | None:
        if name in module.units and name != MODULE_BODY:
            return Unit(module.name, name)
        if name in module.imports:
            return self._resolve_import(module.imports[name], 0)
        return None

    def _resolve_expr(self, module: _Module, node: ast.expr) -> Unit | str | None:
        if isinstance(node, ast.Name):
            return self._resolve_name(module, node.id)
        if isinstance(node, ast.Attribute):
            owner = self._resolve_expr(module, node.value)
            if isinstance(owner, str):
                return self._resolve_in(owner, node.attr)
        return None

    def references(self, unit: Unit) -> tuple[set[Unit], set[str]]:
        """(definitions `unit` refers to, attribute names it uses)."""
        module = self.modules[unit.module]
        units: set[Unit] = set()
        attributes: set[str] = set()
        for stmt in module.units[unit.name]:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Attribute):
                    attributes.add(node.attr)
                if isinstance(node, ast.Name | ast.Attribute):
                    target = self._resolve_expr(module, node)
                    if isinstance(target, Unit):
                        units.add(target)
        if "." in unit.name:  # a method belongs to its class
            units.add(Unit(unit.module, unit.name.split(".", 1)[0]))
        return units, attributes

    def reached(self, roots: Iterable[Unit], *, avoid: Iterable[str] = ()) -> set[Unit]:
        """Every definition reachable from `roots` without entering the modules `avoid`
        names (an optional feature's code: what it alone needs is granted separately)."""
        avoided = frozenset(avoid)
        reached: set[Unit] = set()
        attributes: set[str] = set()
        todo = list(roots)
        while todo:
            while todo:
                unit = todo.pop()
                if unit in reached or unit.module in avoided:
                    continue
                reached.add(unit)
                module = self.modules[unit.module]
                # Importing a module runs its top-level statements and decorators.
                todo.extend(Unit(module.name, n) for n in (MODULE_BODY, *module.decorated))
                units, names = self.references(unit)
                attributes |= names
                todo.extend(units)
            for unit in list(reached):
                if "." in unit.name:
                    continue
                for name in self.modules[unit.module].units:
                    cls, dot, method = name.partition(".")
                    used = _is_dunder(method) or method in attributes
                    if dot and cls == unit.name and used and Unit(unit.module, name) not in reached:
                        todo.append(Unit(unit.module, name))
        return reached

    def module_units(self, module: str) -> set[Unit]:
        return {Unit(module, name) for name in self.modules[module].units}

    def roots(self, entries: Iterable[str]) -> set[Unit]:
        """Every definition in the named files or folders (relative to the package)."""
        found: set[Unit] = set()
        for entry in entries:
            path = self.package_dir / entry
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            for file in files:
                found |= self.module_units(self._module_name(file))
        return found

    # -- permissions ---------------------------------------------------------------------

    def permissions(
        self,
        units: Iterable[Unit],
        names_of: Callable[[str], Mapping[str, Any]],
    ) -> set[Permission]:
        """Permissions of the client calls in `units`; `names_of(module)`: its constants."""
        chosen = sorted(units)
        modules = sorted({u.module for u in chosen})
        receivers = api_receivers(self.modules[m].tree for m in modules)
        found: set[Permission] = set()
        for unit in chosen:
            module = self.modules[unit.module]
            tree = ast.Module(body=list(module.units[unit.name]), type_ignores=[])
            where = str(
                module.path.relative_to(ROOT) if module.path.is_relative_to(ROOT) else module.path
            )
            scanner = _Scanner(where, _LazyNames(names_of, unit.module), receivers)
            found |= scanner.scan(tree)
        return found


class _LazyNames(Mapping[str, Any]):
    """A module's names, loaded only when a call needs one (most units have no client call)."""

    def __init__(self, names_of: Callable[[str], Mapping[str, Any]], module: str) -> None:
        self._names_of = names_of
        self._module = module

    def _names(self) -> Mapping[str, Any]:
        return self._names_of(self._module)

    def __getitem__(self, key: str) -> Any:
        return self._names()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def api_receivers(trees: Iterable[ast.AST]) -> dict[str, str]:
    """`self.core = k8s.CoreV1Api(...)`-style assignments: {"core": "CoreV1Api"}."""
    found: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            func = node.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if not name.endswith("Api"):
                continue
            for target in node.targets:
                key = target.attr if isinstance(target, ast.Attribute) else None
                key = target.id if isinstance(target, ast.Name) else key
                if key is None:
                    continue
                if found.get(key, name) != name:
                    raise UnresolvedCall(f"{key!r} is both a {found[key]} and a {name}")
                found[key] = name
    return found


def _module_names(module: str) -> Mapping[str, Any]:
    return vars(importlib.import_module(module))


@functools.cache
def package_graph() -> CallGraph:
    return CallGraph(PACKAGE_DIR, PACKAGE)


@functools.cache
def operator_units(*, webhook: bool = True) -> frozenset[Unit]:
    """The definitions the operator process can run (`webhook=False`: with the webhook
    server's modules, WEBHOOK_MODULES, left out, as `--webhook-port` off leaves them)."""
    graph = package_graph()
    avoid = () if webhook else WEBHOOK_MODULES
    return frozenset(graph.reached(graph.roots(OPERATOR_PROCESS), avoid=avoid))


@functools.cache
def code_permissions(*, webhook: bool = True) -> frozenset[Permission]:
    """Everything the operator process's own client calls need (`webhook=False`: without
    the webhook server's)."""
    return frozenset(package_graph().permissions(operator_units(webhook=webhook), _module_names))


@functools.cache
def webhook_permissions() -> frozenset[Permission]:
    """What only the webhook server (`modelsync run --webhook-port`) needs: the rules of
    deploy/components/webhook."""
    return code_permissions() - code_permissions(webhook=False)


@functools.cache
def cli_permissions(entry: str) -> frozenset[Permission]:
    """What a command run with the user's credentials needs, e.g. "cli/reconcile.py"."""
    graph = package_graph()
    return frozenset(graph.permissions(graph.reached(graph.roots([entry])), _module_names))


def kopf_handler_permissions(source: str, names: Mapping[str, Any]) -> set[Permission]:
    """What Kopf does for the `@kopf.on.<kind>(group, version, plural)` handlers in `source`.

    Every handler makes Kopf list and watch its resource. Changing handlers (create, update,
    resume, delete, daemons, timers) also make it patch the object: finalizers, progress and
    `kopf.zalando.org/last-handled-configuration` annotations, results in status. Watching
    handlers (`event`, `index`) only write when one returns something: Kopf stores the value
    in the object's status, so unless the handler is annotated `-> None` it counts as
    writing (kopf/_core/reactor/processing.py, process_watching_cause, deliver_results).
    """
    tree = ast.parse(source)
    returns_none: set[ast.Call] = set()
    for definition in ast.walk(tree):
        if isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
            annotation = definition.returns
            if isinstance(annotation, ast.Constant) and annotation.value is None:
                returns_none |= {d for d in definition.decorator_list if isinstance(d, ast.Call)}
    found: set[Permission] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        chain = ast.unparse(func)
        if not (chain.startswith("kopf.on.") or chain in ("kopf.daemon", "kopf.timer")):
            continue
        handler = chain.rsplit(".", 1)[-1]
        if handler in _NON_RESOURCE_HANDLERS:
            continue
        if handler in _UNMODELLED_HANDLERS:
            raise UnresolvedCall(f"line {node.lineno}: {chain}: teach the RBAC checker")
        scanner = _Scanner("<handlers>", names, {})
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        if "group" in keywords and "plural" in keywords:
            group, plural = scanner.value(keywords["group"]), scanner.value(keywords["plural"])
        elif len(node.args) == 3:
            group, plural = scanner.value(node.args[0]), scanner.value(node.args[2])
        else:
            raise UnresolvedCall(f"line {node.lineno}: cannot tell the resource of {chain}")
        found |= {Permission(str(group), str(plural), v) for v in ("list", "watch")}
        if handler not in _WATCH_ONLY_HANDLERS or node not in returns_none:
            found.add(Permission(str(group), str(plural), "patch"))
            found.add(Permission(str(group), f"{plural}/status", "patch"))
    return found


def kopf_framework_permissions(*, clusterwide: bool, posting: bool) -> set[Permission]:
    """What a standalone Kopf itself does, per its source (kopf/_core/reactor/observation.py,
    kopf/_core/engines/posting.py).

    CRDs: list/watch, to notice resources appearing at run time. Namespaces: list/watch only
    for namespace-restricted operators (to match --namespace patterns). No peering: the
    operator runs Kopf standalone and elects its leader with a Lease of its own.
    """
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    found = {Permission(*crds, v) for v in ("list", "watch")}
    if not clusterwide:
        found |= {Permission("", "namespaces", v) for v in ("list", "watch")}
    if posting:
        found.add(Permission("", "events", "create"))
    return found


def owner_reference_permissions(
    source: str, owner_group: str, owner_plural: str
) -> set[Permission]:
    """Objects created with `blockOwnerDeletion: True` need `update` on the owner's
    finalizers where the OwnerReferencesPermissionEnforcement admission plugin runs."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "blockOwnerDeletion"
                    and not (isinstance(value, ast.Constant) and value.value is False)
                ):
                    return {Permission(owner_group, f"{owner_plural}/finalizers", "update")}
    return set()


def granted_permissions(rules: Iterable[Mapping[str, Any]]) -> set[Permission]:
    """Expand RBAC rules; wildcards are refused (least privilege)."""
    found: set[Permission] = set()
    for rule in rules:
        if rule.get("nonResourceURLs"):
            raise ValueError(f"non-resource rule: {rule}")
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in (rule.get(field) or ()):
                raise ValueError(f"wildcard in {field}: {rule}")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    found.add(Permission(group, resource, verb))
    return found
