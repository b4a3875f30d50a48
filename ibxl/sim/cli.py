"""``ibxl sim``: run the embedded paper gateway from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from ..config import DEFAULT_HOST, DEFAULT_PORT
from ..config import load as load_settings
from .config import SimConfig
from .server import Gateway


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The gateway's command-line options (shared by ``ibxl sim`` and ``python -m ibxl.sim``)."""
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}, TWS paper's port)")
    p.add_argument("--seed", type=int, default=42, help="seed of the synthetic markets (same seed, same history)")
    p.add_argument("--hours", choices=("always", "exchange"), default="always",
                   help="'always': today's session never closes, past ones follow the exchange (default); "
                        "'exchange': real sessions throughout")
    p.add_argument("--accounts", default="DU1234567", help="comma-separated paper account ids")
    p.add_argument("--trusted-ip", action="append", default=[], help="also accept clients from this address")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where the paper account is kept (default: sim/ in ibxl's data directory, "
                        "IBXL_DATA_DIR or data_dir in the config file when set)")
    p.add_argument("--memory", action="store_true", help="keep the paper account in memory only (nothing saved)")
    p.add_argument("--reset", action="store_true", help="start the paper account afresh")
    p.add_argument("--read-only", action="store_true", help="reject orders, as TWS's read-only API mode does")
    p.add_argument("--tick-interval", type=float, default=0.25, help="seconds between streamed updates")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")


def default_state_dir() -> Path:
    """The paper account's home when none is given: ``sim/`` in ibxl's data directory, resolved as
    the data layer resolves it (``IBXL_DATA_DIR``, then the config file, then the user data dir)."""
    return load_settings().data_path / "sim"


def config_from_args(a: argparse.Namespace) -> SimConfig:
    """Turn parsed options into a :class:`SimConfig`."""
    return SimConfig(
        host=a.host, port=a.port, seed=a.seed, hours=a.hours,
        accounts=tuple(x.strip() for x in a.accounts.split(",") if x.strip()),
        trusted_ips=tuple(a.trusted_ip), state_dir=None if a.memory else (a.state_dir or default_state_dir()),
        reset=a.reset,
        read_only=a.read_only, tick_interval=a.tick_interval,
    )


def run(a: argparse.Namespace) -> int:
    """Run the gateway until interrupted."""
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = config_from_args(a)
    gateway = Gateway(cfg)

    async def main() -> None:
        host, port = await gateway.start()
        print(f"ibxl.sim paper gateway listening on {host}:{port} "
              f"(seed {cfg.seed}, hours {cfg.hours}, accounts {','.join(cfg.accounts)}); Ctrl-C stops it", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await gateway.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("ibxl.sim stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m ibxl.sim``."""
    p = argparse.ArgumentParser(prog="python -m ibxl.sim", description="ibxl's embedded paper gateway (TWS API)")
    add_arguments(p)
    return run(p.parse_args(argv))
