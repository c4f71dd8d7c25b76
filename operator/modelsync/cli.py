"""The `modelsync` command.

Each subcommand lives in the module that owns it; this file only wires
argparse to them and imports lazily, so `modelsync sandbox catalog` never
loads Kopf and `modelsync run` never loads the sandbox.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast


class _Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


# (argv path, module implementing add_arguments/run, help)
_COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("run",), "modelsync.run_cli", "run the operator"),
    (("reconcile",), "modelsync.reconcile_cli", "ask the operator to sync a ModelCatalogSync now"),
    (("demo",), "modelsync.demo_cli", "run the sandboxes, the operator and an example sync"),
    (("render",), "modelsync.render_cli", "print the ModelRefs a ModelCatalogSync would produce"),
    (("sandbox", "catalog"), "modelsync.sandbox.catalog_cli", "serve a local catalog API"),
    (("sandbox", "kube"), "modelsync.sandbox.kube.cli", "serve a local Kubernetes API"),
]


def _load(module: str) -> _Command:
    return cast(_Command, importlib.import_module(module))


def _selected(argv: Sequence[str]) -> tuple[str, ...] | None:
    words = [a for a in argv if not a.startswith("-")]
    for path, _module, _help in _COMMANDS:
        if tuple(words[: len(path)]) == path:
            return path
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the chosen command's module is imported (None: all of them)."""
    parser = argparse.ArgumentParser(
        prog="modelsync",
        description="Keep Kubernetes ModelRefs in step with a TrueFoundry model catalog.",
    )
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    }
    for path, module, help_text in _COMMANDS:
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                group_parser = groups[path[: depth - 1]].add_parser(
                    prefix[-1], help=f"{prefix[-1]} commands"
                )
                groups[prefix] = group_parser.add_subparsers(
                    dest=f"command_{depth}", required=True, metavar="COMMAND"
                )
        sub = groups[path[:-1]].add_parser(path[-1], help=help_text, description=help_text)
        sub.set_defaults(_module=module)
        if argv is None or _selected(argv) == path:
            _load(module).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    return _load(str(args._module)).run(args)


if __name__ == "__main__":
    sys.exit(main())
