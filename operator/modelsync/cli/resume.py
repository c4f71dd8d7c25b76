"""`modelsync resume NAME`: clear a ModelCatalogSync's spec.suspend (suspend.py does both)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from modelsync.cli import suspend

    suspend.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from modelsync.cli.suspend import run_resume

    return run_resume(args)
