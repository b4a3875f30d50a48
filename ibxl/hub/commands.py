"""``ibxl hub start|stop|status|serve``."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from ..errors import IBXLError

Command = Callable[[argparse.Namespace], int]


def _plain(command: Command) -> Command:
    """A bad setting or an unreachable hub is one line naming the fix, not a traceback."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except IBXLError as exc:
            print(f"ibxl hub: {exc}", file=sys.stderr)
            return 1

    return run


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sim", action="store_true", default=None, help="run the embedded paper gateway in the hub")
    p.add_argument("--host", default=None, help="TWS / IB Gateway host (default from the config)")
    p.add_argument("--port", type=int, default=None, help="TWS / IB Gateway port (default from the config)")
    p.add_argument("--client-id", type=int, default=None, help="client id to try first (the next free one is used "
                                                                "when TWS says it is in use)")


def register(sub: Any) -> None:
    """Add the ``hub`` command."""
    p = sub.add_parser("hub", help="the shared connection every ibxl process attaches to")
    hub_sub = p.add_subparsers(dest="hub_command", required=True)
    start = hub_sub.add_parser("start", help="start the hub (detached) unless one runs")
    _target(start)
    start.set_defaults(func=_plain(_start))
    stop = hub_sub.add_parser("stop", help="stop the hub (and an embedded gateway it runs)")
    stop.set_defaults(func=_plain(_stop))
    status = hub_sub.add_parser("status", help="connection, processes attached, lines, pacing, store size")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_plain(_status))
    serve = hub_sub.add_parser("serve", help="run the hub in the foreground (what `start` runs)")
    _target(serve)
    serve.set_defaults(func=_plain(_serve))


def _start(args: argparse.Namespace) -> int:
    from . import start

    info = start(sim=args.sim, host=args.host, port=args.port, client_id=args.client_id)
    where = "the embedded gateway" if info["sim"] else f"{info['host']}:{info['port']}"
    print(f"hub running (pid {info['pid']}), connected to {where} as client id {info['client_id']}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from . import stop

    print("hub stopped" if stop() else "no hub was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ..errors import NotConnected
    from . import status

    try:
        st = status()
    except NotConnected as exc:
        print(f"no hub running: {exc.hint}")
        return 1
    if args.json:
        print(json.dumps(st, default=str, indent=2))
        return 0
    where = "embedded gateway" if st["sim"] else f"{st['host']}:{st['port']}"
    print(f"hub pid {st['hub_pid']} in {st['hub_dir']} (up {st['uptime']:.0f} s)")
    print(f"transport:       {st['endpoints']}"
          + (f", {st['refused_connections']} connections refused" if st.get("refused_connections") else ""))
    print(f"connection:      {'up' if st['connected'] else 'DOWN'} to {where}, client id {st['client_id']}, "
          f"account {st['account']}" + (f", last error: {st['last_error']}" if st["last_error"] else ""))
    print(f"processes:       {st['processes']} attached (pids {', '.join(map(str, st['pids'])) or '-'})")
    print(f"lines:           {st['lines']} in use of {st['line_budget']}")
    print(f"pacing headroom: {st['pacing_headroom']} small-bar history requests in the next 10 minutes")
    print(f"bar store:       {st['store_bytes'] / 1e6:.1f} MB")
    print(f"trading:         {st['trading']}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .. import config
    from .server import run

    settings = config.load(sim=args.sim, host=args.host, port=args.port, client_id=args.client_id)
    return run(settings)
