"""A `modelsync.commands` plugin module, as another distribution would provide one."""

from __future__ import annotations

import argparse

HELP = "echo a word (a plugin command)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--word", required=True)
    parser.add_argument("--exit-code", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    print(f"plugin says {args.word}")
    return int(args.exit_code)
