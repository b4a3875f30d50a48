"""Processes a test (or a whole ``make test``) left running.

A test that starts servers gives them an environment variable with a value of its own; every
process they start inherits it (Voila's kernels, a detached hub, a browser), so whatever still
carries it once the test is over was left behind. Run as a script (the end of ``make test``), it
lists the processes of this test run (``IBXL_TEST_RUN`` in their environment, or a command line or
working directory inside the checkout and started since the run began) and fails if there is any.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
#: set by `make test` to "<unix time the run began>-<random>"
RUN_VARIABLE = "IBXL_TEST_RUN"


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ancestors() -> set[int]:
    """This process and the ones that started it (the shell and make running the check)."""
    pids = {os.getpid()}
    try:
        pids.update(p.pid for p in psutil.Process().parents())
    except psutil.NoSuchProcess:
        pass
    return pids


def _in_checkout(p: psutil.Process, root: Path) -> bool:
    """Whether ``p`` runs from, or in, the checkout at ``root``."""
    prefix = str(root) + os.sep
    try:
        cwd = p.cwd() + os.sep
        args = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return False
    return cwd.startswith(prefix) or any(prefix in a or a == str(root) for a in args)


def marked(variable: str, value: str) -> list[psutil.Process]:
    """Running processes (other than this one and its ancestors) whose environment has ``variable=value``."""
    skip = _ancestors()
    found = []
    for p in psutil.process_iter():
        if p.pid in skip:
            continue
        try:
            if p.environ().get(variable) == value and _alive(p):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def run_leftovers(token: str, root: Path = ROOT) -> list[psutil.Process]:
    """The processes of the test run ``token``: marked with it, or started from the checkout since
    the run began (the token's first part is that time)."""
    found = {p.pid: p for p in marked(RUN_VARIABLE, token)}
    try:
        began = float(token.split("-", 1)[0])
    except ValueError:
        began = None
    if began is not None:
        skip = _ancestors()
        for p in psutil.process_iter():
            try:
                if (p.pid not in skip and p.pid not in found and p.create_time() >= began - 1
                        and _alive(p) and _in_checkout(p, root)):
                    found[p.pid] = p
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
    return list(found.values())


def settle(find: Callable[[], list[psutil.Process]], timeout: float = 10.0) -> list[psutil.Process]:
    """``find()`` once the processes it finds have had up to ``timeout`` seconds to finish exiting."""
    deadline = time.monotonic() + timeout
    left = find()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = find()
    return left


def describe(procs: list[psutil.Process]) -> str:
    """One line per process: pid, parent, command line."""
    lines = []
    for p in procs:
        try:
            lines.append(f"  pid {p.pid} (parent {p.ppid()}): {' '.join(p.cmdline())[:300]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return "\n".join(lines)


def kill(procs: list[psutil.Process]) -> None:
    """End ``procs`` (a test that failed half-way still leaves nothing behind)."""
    for p in procs:
        try:
            p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    psutil.wait_procs(procs, timeout=5)


def main() -> int:
    """List the processes this test run left behind; exit status 1 if there is any."""
    token = os.environ.get(RUN_VARIABLE, "")
    if not token:
        print(f"{RUN_VARIABLE} is not set: run this through `make test`", file=sys.stderr)
        return 2
    left = settle(lambda: run_leftovers(token))
    if left:
        print(f"the tests left {len(left)} process(es) running:\n{describe(left)}\n"
              f"(stop them with: kill {' '.join(str(p.pid) for p in left)})", file=sys.stderr)
        return 1
    print("no process of the test run is left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
