"""``python -m ibxl.process_guard PARENT -- COMMAND...``: run a command and stop its whole process
tree when process PARENT ends, however it ends.

A command stopped by SIGINT, SIGTERM or SIGHUP stops what it started itself (``ibxl.processes``);
one killed with SIGKILL (or by the out-of-memory killer) runs no clean-up, so the Voila server and
kernels it started would live on. The guard sits between them: it watches the parent, and stops
the command's tree (SIGTERM, then SIGKILL after a grace period) once the parent is gone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

from .processes import STOP_SIGNALS, is_running, stop_tree

#: seconds between looks at the parent
POLL_SECONDS = 0.5


def run(parent: int, cmd: list[str]) -> int:
    """Run ``cmd`` until it exits, a stop signal arrives, or process ``parent`` ends; return its exit code."""
    import psutil

    try:
        watched = psutil.Process(parent)
    except psutil.NoSuchProcess:
        print(f"ibxl process guard: process {parent} is already gone; not starting {cmd[0]}", file=sys.stderr)
        return 1
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    child = subprocess.Popen(cmd)
    while child.poll() is None and not stopping:
        if not is_running(watched):
            print(f"ibxl process guard: process {parent} ended; stopping {cmd[0]}", file=sys.stderr, flush=True)
            break
        time.sleep(POLL_SECONDS)
    if child.poll() is None:
        stop_tree(child.pid)
    return child.wait()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``PARENT -- COMMAND...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--" or not args[0].isdigit():
        print("usage: python -m ibxl.process_guard PARENT_PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(int(args[0]), args[2:])


if __name__ == "__main__":
    sys.exit(main())
