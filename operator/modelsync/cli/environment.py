"""Environment-variable forms of a command's options, for Deployments that prefer `env:` to
`args:`.

The rule: `--max-concurrent-writes` is also `MODELSYNC_MAX_CONCURRENT_WRITES` (the prefix, then
the first long option in upper snake case). An option on the command line wins over its
variable; the variable wins over the built-in default. A variable that is set counts, even
when empty. Booleans read `true`/`false` (also 1/0, yes/no, on/off); a repeatable option reads
a comma-separated list. A bad value is a usage error that names the variable.

How: a bound option's default becomes a `_FromEnvironment` marker, which is a str, and its
type a `_EnvType`. argparse passes a str default through the option's type when the option is
not on the command line (documented behaviour), so the variable is read, checked and
converted while parsing, with argparse's own error path and the command's own usage.
Import-light: stdlib only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ENV_PREFIX",
    "Append",
    "bind_environment",
    "builtin_default",
    "builtin_type",
    "env_name",
    "env_variable",
]

ENV_PREFIX = "MODELSYNC_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

Kind = Literal["value", "flag", "list"]


def env_name(option: str) -> str:
    """`--max-concurrent-writes` -> `MODELSYNC_MAX_CONCURRENT_WRITES`."""
    return ENV_PREFIX + option.lstrip("-").upper().replace("-", "_")


class Append(argparse.Action):
    """A repeatable option whose command-line values replace its default (argparse's `append`
    adds them to it, so a value from the environment could not be overridden)."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, default: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(option_strings, dest, default=[] if default is None else default, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        del parser, option_string
        current = getattr(namespace, self.dest, None)
        items = [] if current is self.default or not isinstance(current, list) else current
        setattr(namespace, self.dest, [*items, values])


class _FromEnvironment(str):
    """The default of a bound option; its text is what help's %(default)s would show."""

    __slots__ = ()


@dataclass(frozen=True, eq=False)  # hashable by identity: argparse looks types up in a dict
class _EnvType:
    """The type of a bound option: a command-line value goes to the option's own type; the
    marker default becomes the variable's value, or the built-in default when it is unset."""

    variable: str
    kind: Kind
    convert: Callable[[str], Any] | None
    default: Any
    choices: Collection[Any] | None

    def __call__(self, text: str) -> Any:
        if not isinstance(text, _FromEnvironment):
            return self._one(text)
        raw = os.environ.get(self.variable)
        if raw is None:
            if isinstance(self.default, str) and self.convert is not None:
                return self.convert(self.default)
            return list(self.default) if isinstance(self.default, list) else self.default
        try:
            return self._parse(raw)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            detail = str(exc) if isinstance(exc, argparse.ArgumentTypeError) else repr(raw)
            raise argparse.ArgumentTypeError(
                f"environment variable {self.variable}: {detail} (fix or unset it)"
            ) from None

    def _one(self, text: str) -> Any:
        return text if self.convert is None else self.convert(text)

    def _checked(self, text: str) -> Any:
        """A value from the variable: argparse checks the choices of command-line values
        only."""
        value = self._one(text)
        if self.choices is not None and value not in self.choices:
            choices = ", ".join(repr(c) for c in self.choices)
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {choices}")
        return value

    def _parse(self, raw: str) -> Any:
        if self.kind == "flag":
            word = raw.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise argparse.ArgumentTypeError(f"{raw!r} is not true or false")
        if self.kind == "list":
            return [self._checked(part.strip()) for part in raw.split(",") if part.strip()]
        return self._checked(raw)


def _kind(action: argparse.Action) -> Kind:
    if isinstance(action, argparse.BooleanOptionalAction | argparse._StoreTrueAction):
        return "flag"
    if isinstance(action, Append):
        return "list"
    if type(action) is argparse._StoreAction and action.nargs is None:
        return "value"
    raise TypeError(
        f"{'/'.join(action.option_strings)}: no environment form for this kind of option; "
        "use store, store_true, BooleanOptionalAction or environment.Append"
    )


def _bindable(action: argparse.Action) -> bool:
    return bool(action.option_strings) and not isinstance(
        action, argparse._HelpAction | argparse._VersionAction
    )


def _long_option(action: argparse.Action) -> str:
    return next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])


def bind_environment(parser: argparse.ArgumentParser, *, exclude: Collection[str] = ()) -> None:
    """Give every option of `parser` (but --help and the long options in `exclude`) its
    MODELSYNC_ variable, named in its help as `[env: NAME]`."""
    for action in parser._actions:
        if not _bindable(action) or _long_option(action) in exclude:
            continue
        variable = env_name(_long_option(action))
        convert = action.type
        if convert is not None and not callable(convert):
            raise TypeError(f"{variable}: the option's type must be callable")
        choices = None if action.choices is None else tuple(action.choices)
        action.type = _EnvType(variable, _kind(action), convert, action.default, choices)
        action.default = _FromEnvironment(variable)
        action.help = f"{action.help or ''} [env: {variable}]".lstrip()


def env_variable(action: argparse.Action) -> str | None:
    """The variable bound to `action`, or None."""
    return action.type.variable if isinstance(action.type, _EnvType) else None


def builtin_type(action: argparse.Action) -> Any:
    """The option's own type (what converts a command-line value)."""
    return action.type.convert if isinstance(action.type, _EnvType) else action.type


def builtin_default(action: argparse.Action) -> Any:
    """The option's default when neither the command line nor the environment sets it."""
    return action.type.default if isinstance(action.type, _EnvType) else action.default
