"""Where the hub listens and who may talk to it: a private directory, a per-user key, and the
ZeroMQ sockets (ROUTER/DEALER for calls, PUB/SUB for quotes) over local ``ipc://`` endpoints.

The directory is ``IBXL_HUB_DIR``, else ``$XDG_RUNTIME_DIR/ibxl/hub`` when the system has a
runtime directory, else ``<user data dir>/ibxl/hub``; it is created 0700; the key file in it is
0600. Another user cannot open the endpoints (the directory), and nothing listens on the network.
``Transport`` is the one place that knows socket kinds and addresses, so a hub on a shared server
(tcp with CURVE) is a second implementation of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import platformdirs
import zmq

from ..errors import IBXLError

#: the longest path an ipc:// endpoint may have (the kernel's limit for unix sockets, less margin)
MAX_IPC_PATH = 100


def hub_dir() -> Path:
    """The hub's private directory (created 0700 on first use)."""
    env = os.environ.get("IBXL_HUB_DIR", "").strip()
    if env:
        path = Path(env)
    else:
        base = Path(platformdirs.user_data_dir("ibxl"))
        if os.environ.get("XDG_RUNTIME_DIR"):  # the per-login 0700 directory, when the system has one
            with contextlib.suppress(OSError):
                runtime = Path(platformdirs.user_runtime_dir("ibxl"))
                runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
                base = runtime
        path = base / "hub"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise IBXLError(f"hub directory {path} belongs to another user",
                        hint="set IBXL_HUB_DIR to a directory of yours")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def key_path(directory: Path) -> Path:
    """The file holding the signing key."""
    return directory / "hub.key"


def load_key(directory: Path) -> bytes:
    """The per-user signing key (created 0600 with 32 random bytes when missing)."""
    path = key_path(directory)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    st = path.stat()
    if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise IBXLError(f"hub key {path} is readable by others",
                        hint=f"chmod 600 {path}, or delete it to make a new one")
    key = path.read_text().strip().encode()
    if len(key) < 32:
        raise IBXLError(f"hub key {path} is too short", hint="delete it; the hub makes a new one")
    return key


class Transport:
    """Local endpoints: ``ipc://`` sockets in the hub directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.calls = f"ipc://{directory / 'calls'}"
        self.quotes = f"ipc://{directory / 'quotes'}"
        if len(str(directory / "quotes")) > MAX_IPC_PATH:
            raise IBXLError(f"hub directory {directory} is too long a path for a local socket",
                            hint="set IBXL_HUB_DIR to a shorter path")

    def bind_calls(self, ctx: zmq.Context) -> zmq.Socket:
        """The hub's ROUTER for calls."""
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        sock.bind(self.calls)
        os.chmod(self.directory / "calls", 0o600)
        return sock

    def bind_quotes(self, ctx: zmq.Context) -> zmq.Socket:
        """The hub's PUB for quote updates."""
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.bind(self.quotes)
        os.chmod(self.directory / "quotes", 0o600)
        return sock

    def connect_calls(self, ctx: zmq.Context) -> zmq.Socket:
        """A process's DEALER for calls (queues nothing while the hub is away)."""
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.connect(self.calls)
        return sock

    def connect_quotes(self, ctx: zmq.Context) -> zmq.Socket:
        """A process's SUB for quote updates (every topic; the process keeps what it has lines for)."""
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.quotes)
        return sock
