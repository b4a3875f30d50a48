"""``ibxl hub``: one per-user service owning the desk's connection to TWS, shared by Excel's
function servers, notebooks, the dashboard and scripts (see ``docs/hub.md``).

``start()``, ``stop()`` and ``status()`` are the Python face of ``ibxl hub start|stop|status``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .. import config
from ..errors import NotConnected
from . import system
from .transport import hub_dir, hub_lock


def start(sim: bool | None = None, host: str | None = None, port: int | None = None,
          client_id: int | None = None) -> dict[str, Any]:
    """Start the hub (detached) unless one answers; return its hello (pid, target, client id)."""
    from .link import ensure_hub

    settings = config.load(sim=sim, host=host, port=port, client_id=client_id)
    explicit = {k: v for k, v in (("sim", sim), ("host", host), ("port", port)) if v is not None}
    return ensure_hub(hub_dir(), settings, explicit)


def status() -> dict[str, Any]:
    """The running hub's state: connection, processes attached, lines in use and budget, pacing
    headroom, store size. Raises NotConnected when no hub runs."""
    from .link import request

    return request("status")


def _pid(directory: Path) -> int | None:
    try:
        return int(json.loads((directory / "hub.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _hub_lock_held(directory: Path) -> bool:
    """Whether a hub process holds the lock of ``directory`` (a running hub holds it all its life)."""
    lock = hub_lock(directory)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def stop(timeout: float = 10.0) -> bool:
    """Stop the hub of this user (``IBXL_HUB_DIR``); True when one was running."""
    from .link import request

    directory = hub_dir()
    with FileLock(directory / "start.lock"):  # a hub being started right now is stopped once it is up
        pid = _pid(directory)
        try:
            request("stop", timeout=3.0)
            asked = True
        except NotConnected:
            asked = False
    if pid is None:
        return asked
    if not asked and not _hub_lock_held(directory):
        # no hub answers and none holds the hub lock: hub.json was left by a hub that was killed,
        # and its pid may by now belong to some other process, which must not be signalled
        with contextlib.suppress(OSError):
            (directory / "hub.json").unlink()
        return False
    if not system.wait_gone(pid, timeout):  # not answering (stuck): end it the hard way
        system.end(pid)
        system.wait_gone(pid, 5.0)
    with contextlib.suppress(OSError):
        (directory / "hub.json").unlink()
    return True
