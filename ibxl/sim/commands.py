"""Registers ``ibxl sim`` with the ibxl command."""

from __future__ import annotations

import argparse

from . import cli


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sim`` subcommand."""
    p = sub.add_parser("sim", help="run the embedded paper gateway (TWS API on a local port)")
    cli.add_arguments(p)
    p.set_defaults(func=cli.run)
