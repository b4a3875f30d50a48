"""Processes a command starts and must not leave behind: stop signals turned into an exception,
a process tree stopped whole (its own process groups and the ones its children made), and a
register of what to stop, newest first, whatever ends the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: the signals that stop a command: Ctrl-C, a service manager, a closed terminal
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
#: seconds a process gets to stop its own children (Voila shuts its kernels down) before it is killed
GRACE = 15.0


class Stopped(Exception):
    """A stop signal arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """While active, the first of SIGINT/SIGTERM/SIGHUP raises :class:`Stopped` in the main thread;
    later ones are only recorded (in the yielded list), so that they cannot cut the clean-up short.
    Outside the main thread (where Python cannot install handlers) nothing is installed."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Stopped(signum)

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stop_tree(pid: int, grace: float = GRACE) -> None:
    """Stop process ``pid`` and everything it started: SIGTERM to the process (Voila then shuts its
    kernels down), then, after at most ``grace`` seconds, SIGTERM and finally SIGKILL to whatever of
    its tree and process groups is left. Kernels run in process groups of their own (jupyter_client
    starts them in new sessions), so the tree is walked rather than one group signalled."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    groups: set[int] = set()  # process groups of the tree other than our own
    if sys.platform != "win32":
        for p in tree:
            with _suppress_gone():
                groups.add(os.getpgid(p.pid))
        groups.discard(os.getpgrp())
    try:
        root.terminate()
    except psutil.NoSuchProcess:
        pass
    psutil.wait_procs([root], timeout=grace)
    with _suppress_gone():
        tree += root.children(recursive=True)  # started while stopping, if root is still alive
    rest = [p for p in tree if is_running(p)]
    for sig in (signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)):
        if sys.platform != "win32":
            for pgid in groups:
                with _suppress_gone():
                    os.killpg(pgid, sig)
        for p in rest:
            with _suppress_gone():
                p.send_signal(sig)
        _, rest = psutil.wait_procs(rest, timeout=5)
        if not rest:
            return


def is_running(p: Any) -> bool:
    """Whether psutil process ``p`` still runs: not a new process given its pid (psutil compares start
    times), and not a zombie (which has ended; only its parent has not reaped it)."""
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextmanager
def _suppress_gone() -> Iterator[None]:
    """Ignore a process (or group) that ended meanwhile."""
    import psutil

    try:
        yield
    except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
        pass


class Children:
    """What a command (``ibxl demo``) started, stopped in reverse order when it ends, whatever ends it.

    ``spawn`` starts a process in a session of its own (so that a terminal's Ctrl-C or hang-up
    reaches the command only, which then stops everything in order), under a guard that stops it
    if the command is killed outright, and registers
    :func:`stop_tree` for it; ``on_stop`` registers any other clean-up (an in-process gateway, a
    hub the command started, ...). ``processes`` lists what ``spawn`` started."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        self.callbacks: list[Callable[[], Any]] = []

    def spawn(self, cmd: list[str], **popen: Any) -> subprocess.Popen:
        """Start ``cmd`` (``subprocess.Popen`` keyword arguments allowed) and own its process tree.

        It runs under ``ibxl.process_guard``, which stops its tree should this process be killed
        outright (SIGKILL runs none of the clean-up registered here)."""
        if sys.platform == "win32":
            popen.setdefault("creationflags", subprocess.CREATE_NEW_PROCESS_GROUP)
        else:
            popen.setdefault("start_new_session", True)
        guarded = [sys.executable, "-m", "ibxl.process_guard", str(os.getpid()), "--", *cmd]
        proc = subprocess.Popen(guarded, **popen)
        self.processes.append(proc)
        self.on_stop(lambda: self._stop_process(proc))
        return proc

    def on_stop(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` when the command stops (after everything registered later)."""
        self.callbacks.append(callback)

    def stop(self) -> None:
        """Run every clean-up, newest first; one that fails does not keep the others from running."""
        while self.callbacks:
            callback = self.callbacks.pop()
            try:
                callback()
            except Exception as exc:  # keep stopping the rest
                print(f"ibxl: clean-up {callback!r} failed: {exc}", file=sys.stderr)

    @staticmethod
    def _stop_process(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            stop_tree(proc.pid)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
