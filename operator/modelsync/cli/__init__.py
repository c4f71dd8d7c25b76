"""The `modelsync` command.

Each subcommand lives in its own module (`add_arguments(parser)`, `run(args) -> int`, and for
a plugin also `HELP`, its one-line help); this package only wires argparse to them. The
built-in commands are listed here; other distributions add commands through the
`modelsync.commands` entry-point group (the modelsync-sandbox distribution adds `demo`,
`sandbox catalog` and `sandbox kube`). Only the chosen command's module is imported, so
`modelsync run` never loads the sandbox.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

__all__ = [
    "BUILTIN_COMMANDS",
    "ENTRY_POINT_GROUP",
    "SANDBOX_COMMANDS",
    "Command",
    "CommandUnavailable",
    "build_parser",
    "commands",
    "dispatch",
    "installed_commands",
    "main",
    "missing_command_hint",
    "package_version",
]

ENTRY_POINT_GROUP = "modelsync.commands"
# What the modelsync-sandbox distribution provides; named here only for the install hint.
SANDBOX_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("demo",),
    ("sandbox", "catalog"),
    ("sandbox", "kube"),
)
SANDBOX_INSTALL = "pip install ./sandbox"


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Command:
    """A subcommand: its argv words, the module implementing it, and its one-line help
    (None: the module's `HELP`, read only when the help is shown)."""

    words: tuple[str, ...]
    module: str
    help: str | None = None


BUILTIN_COMMANDS: tuple[Command, ...] = (
    Command(("run",), "modelsync.cli.run", "run the operator"),
    Command(
        ("reconcile",), "modelsync.cli.reconcile", "ask the operator to sync a ModelCatalogSync now"
    ),
    Command(
        ("render",), "modelsync.cli.render", "print the ModelRefs a ModelCatalogSync would produce"
    ),
    Command(("get",), "modelsync.cli.get", "show ModelCatalogSyncs: Ready, models, last sync"),
    Command(("suspend",), "modelsync.cli.suspend", "stop syncing a ModelCatalogSync"),
    Command(("resume",), "modelsync.cli.resume", "resume syncing a suspended ModelCatalogSync"),
    Command(
        ("version",),
        "modelsync.cli.version",
        "print the version and the Kubernetes and catalog API versions it speaks",
    ),
)


def _is_word(word: str) -> bool:
    return bool(word) and not word.startswith("-") and word == word.strip()


def _clashes(words: tuple[str, ...], taken: Iterable[Command]) -> bool:
    """Whether `words` would be, contain or sit inside another command (argparse cannot have
    `sandbox` as both a command and the group of `sandbox kube`)."""
    for command in taken:
        shorter = min(len(words), len(command.words))
        if words[:shorter] == command.words[:shorter]:
            return True
    return False


def commands(entry_points: Iterable[importlib.metadata.EntryPoint]) -> tuple[Command, ...]:
    """The built-in commands, then one per plugin entry point (value: a module; the name's
    dots are the argv words: `sandbox.catalog` is `modelsync sandbox catalog`). A plugin that
    would replace or shadow another command, or whose name is not a word path, is left out."""
    found = list(BUILTIN_COMMANDS)
    for entry_point in sorted(entry_points, key=lambda e: e.name):
        words = tuple(entry_point.name.split("."))
        if entry_point.attr or not all(map(_is_word, words)) or _clashes(words, found):
            continue
        found.append(Command(words, entry_point.module))
    return tuple(found)


def installed_commands() -> tuple[Command, ...]:
    """The built-in commands and those of the installed plugin distributions."""
    return commands(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def package_version() -> str:
    try:
        return importlib.metadata.version("modelsync")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        from modelsync import __version__

        return __version__


def _words(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if not a.startswith("-")]


def _selected(argv: Sequence[str], available: Sequence[Command]) -> Command | None:
    words = _words(argv)
    for command in available:
        if tuple(words[: len(command.words)]) == command.words:
            return command
    return None


def _install_hint(words: Sequence[str]) -> str:
    return (
        f"modelsync {' '.join(words)}: this command comes with the modelsync-sandbox "
        f"distribution, which is not installed; install it from a source checkout with "
        f"`{SANDBOX_INSTALL}`"
    )


def missing_command_hint(argv: Sequence[str], available: Sequence[Command]) -> str | None:
    """The one-line hint when `argv` asks for a sandbox command that no installed
    distribution provides, else None."""
    words = _words(argv)
    if not words:
        return None
    for path in SANDBOX_COMMANDS:
        if tuple(words[: len(path)]) == path and not any(c.words == path for c in available):
            return _install_hint(path)
    first_words = {path[0] for path in SANDBOX_COMMANDS}
    if words[0] in first_words and not any(c.words[0] == words[0] for c in available):
        return _install_hint(words[:1])
    return None


class CommandUnavailable(Exception):
    """A command's module cannot be imported (a broken or partial install)."""


def _load(command: Command) -> CommandModule:
    try:
        return cast(CommandModule, importlib.import_module(command.module))
    except ImportError as exc:
        raise CommandUnavailable(
            f"modelsync {' '.join(command.words)}: cannot import {command.module} ({exc}); "
            "reinstall the distribution that provides it"
        ) from exc


def _help_of(command: Command) -> str:
    if command.help is not None:
        return command.help
    try:
        text = getattr(_load(command), "HELP", None)
    except CommandUnavailable as exc:
        return f"(unavailable: {exc})"
    return text if isinstance(text, str) else ""


def _missing_epilog(available: Sequence[Command]) -> str | None:
    missing = [w for w in SANDBOX_COMMANDS if not any(c.words == w for c in available)]
    if not missing:
        return None
    names = ", ".join(" ".join(w) for w in missing)
    return f"{names}: install the modelsync-sandbox distribution ({SANDBOX_INSTALL})"


def build_parser(
    available: Sequence[Command], argv: Sequence[str] | None = None
) -> argparse.ArgumentParser:
    """The parser of `available`; only the module of the command `argv` chooses is imported
    (argv None: every command's)."""
    parser = argparse.ArgumentParser(
        prog="modelsync",
        description="Keep Kubernetes ModelRefs in step with a TrueFoundry model catalog.",
        epilog=_missing_epilog(available),
    )
    parser.add_argument("--version", action="version", version=f"modelsync {package_version()}")
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    }
    chosen = None if argv is None else _selected(argv, available)
    for command in available:
        path = command.words
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                group_parser = groups[path[: depth - 1]].add_parser(
                    prefix[-1], help=f"{prefix[-1]} commands"
                )
                groups[prefix] = group_parser.add_subparsers(
                    dest=f"command_{depth}", required=True, metavar="COMMAND"
                )
        loaded = argv is None or command == chosen
        # A plugin's help needs its module: read it when listing, not when another command runs.
        help_text = _help_of(command) if loaded or chosen is None else command.help
        sub = groups[path[:-1]].add_parser(path[-1], help=help_text, description=help_text)
        sub.set_defaults(_command=command, _parser=sub)
        if loaded:
            _load(command).add_arguments(sub)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> None:
    """A usage error of the command, with its usage (argparse's would show the top level's)
    and the nearest option of the command when one is close."""
    options = [o for action in parser._actions for o in action.option_strings]
    guesses = [
        guess
        for extra in extras
        if extra.startswith("-")
        for guess in difflib.get_close_matches(extra.partition("=")[0], options, n=1)
    ]
    hint = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
    parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def dispatch(argv: Sequence[str], available: Sequence[Command]) -> int:
    """Run the command `argv` names among `available`; the exit code."""
    hint = missing_command_hint(argv, available)
    if hint is not None:
        print(hint, file=sys.stderr)
        return 2
    try:
        args, extras = build_parser(available, argv).parse_known_args(argv)
        if extras:
            _unrecognized(args._parser, extras)
        module = _load(args._command)
    except CommandUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return module.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(list(sys.argv[1:] if argv is None else argv), installed_commands())
