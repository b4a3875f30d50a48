"""What differs between Windows and POSIX for the hub: starting it detached, telling whether a
process lives, ending one, and which signals stop it.

Windows-only calls sit behind ``sys.platform == "win32"`` (rather than ``os.name == "nt"``, which
means the same) so that type checking on Linux knows those branches do not run there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any


def detached() -> dict[str, Any]:
    """``subprocess.Popen`` arguments that start a process detached from this one (it outlives it,
    and a Ctrl-C or closed terminal here does not reach it)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def alive(pid: int) -> bool:
    """True while process ``pid`` runs."""
    if sys.platform == "win32":
        # os.kill(pid, 0) would end the process on Windows (any other signal is TerminateProcess)
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        kernel32.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
        kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists, it is not ours
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return False
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; True when it has."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def end(pid: int, grace: float = 5.0) -> None:
    """End ``pid``: SIGTERM, then after ``grace`` seconds SIGKILL (POSIX); on Windows
    ``os.kill(pid, SIGTERM)`` is already TerminateProcess, and there is no SIGKILL."""
    with contextlib.suppress(OSError):  # gone already, or not ours
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, grace) or sys.platform == "win32":
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_signals() -> list[signal.Signals]:
    """The signals that ask the hub to stop, among those this platform has (SIGHUP is POSIX only;
    SIGBREAK is Windows' Ctrl-Break)."""
    names = ("SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]
