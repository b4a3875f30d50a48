"""The ``ibxl`` command: ``ibxl sim``, ``ibxl demo`` and the tools of each part of ibxl."""

from __future__ import annotations

import argparse
import importlib
import sys

from .extras import MissingExtra

#: modules that each add subcommands through ``register(subparsers)``
COMMAND_MODULES = ["ibxl.sim.commands", "ibxl.demo", "ibxl.excel.commands", "ibxl.hub.commands"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="ibxl", description="Interactive Brokers from Excel, notebooks and pandas")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``ibxl`` subcommand."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MissingExtra as exc:  # an optional part is not installed: one line, no traceback
        print(f"ibxl: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
