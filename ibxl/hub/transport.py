"""Where the hub listens and who may talk to it: a private directory, a per-user key, and the
ZeroMQ sockets (ROUTER/DEALER for calls, PUB/SUB for quotes) over one of two transports.

- ``ipc``: unix-domain sockets in the hub directory (the default on Linux and macOS). Another user
  cannot open them because the directory is 0700 and the socket files 0600.
- ``tcp``: loopback TCP (``tcp://127.0.0.1``, ports the OS picks, recorded in ``hub.json``)
  secured with ZeroMQ CURVE (the default on Windows). The hub has a server keypair and attached
  processes a client keypair, both made on first use and kept in the hub directory's ``curve``
  folder; the hub lets in only client keys from that folder (ZAP), and a process talks only to a
  hub that proves it holds the server key. Another local user, who cannot read the folder, can
  neither connect nor read the quote stream.

``IBXL_HUB_TRANSPORT=ipc|tcp`` chooses; :func:`open_transport` is the one place that decides, and
the rest of the hub only sees a :class:`Transport`.

The directory is ``IBXL_HUB_DIR``, else ``$XDG_RUNTIME_DIR/ibxl/hub`` when the system has a
runtime directory, else ``<user data dir>/ibxl/hub``; it is created 0700; the key files in it are
0600. On Windows the owner and mode checks are skipped: the per-user profile directory the hub
directory lives in is protected by its ACL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import sys
import threading
import time
from pathlib import Path

import platformdirs
import zmq
import zmq.auth
from filelock import FileLock
from zmq.auth.thread import ThreadAuthenticator

from ..errors import IBXLError

log = logging.getLogger("ibxl.hub")

#: the longest path an ipc:// endpoint may have (the kernel's limit for unix sockets, less margin)
MAX_IPC_PATH = 100
IPC, TCP = "ipc", "tcp"
#: the ZAP domain of the hub's CURVE sockets (the authenticator checks keys for it)
ZAP_DOMAIN = b"ibxl"
#: at most one log line per this many seconds about refused connections
LOG_EVERY = 60.0


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
    _private_dir(path)
    return path


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if sys.platform == "win32":  # no POSIX owner or mode: the profile directory's ACL protects it
        return
    st = path.stat()
    if st.st_uid != os.getuid():
        raise IBXLError(f"hub directory {path} belongs to another user",
                        hint="set IBXL_HUB_DIR to a directory of yours")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


def _check_private_file(path: Path) -> None:
    if sys.platform == "win32":  # as for the directory
        return
    st = path.stat()
    if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise IBXLError(f"hub key {path} is readable by others",
                        hint=f"chmod 600 {path}, or delete it to make a new one")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner can read (FileExistsError when it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def key_path(directory: Path) -> Path:
    """The file holding the signing key."""
    return directory / "hub.key"


def hub_lock(directory: Path) -> FileLock:
    """The lock a running hub holds for its whole life (non-blocking: a second hub, or a check for a
    running one, learns at once that it is taken)."""
    return FileLock(directory / "hub.lock", blocking=False)


def load_key(directory: Path) -> bytes:
    """The per-user signing key (created 0600 with 32 random bytes when missing)."""
    path = key_path(directory)
    with contextlib.suppress(FileExistsError):
        _write_private(path, secrets.token_hex(32))
    _check_private_file(path)
    key = path.read_text().strip().encode()
    if len(key) < 32:
        raise IBXLError(f"hub key {path} is too short", hint="delete it; the hub makes a new one")
    return key


def transport_kind() -> str:
    """``IBXL_HUB_TRANSPORT`` (``ipc`` or ``tcp``); by default ``tcp`` on Windows, ``ipc`` elsewhere."""
    raw = os.environ.get("IBXL_HUB_TRANSPORT", "").strip().lower()
    if not raw:
        return TCP if sys.platform == "win32" else IPC
    if raw not in (IPC, TCP):
        raise IBXLError(f"IBXL_HUB_TRANSPORT={raw!r} is not a hub transport",
                        hint="set it to 'ipc' (local sockets, Linux and macOS) or 'tcp' (loopback with CURVE), "
                             "or unset it for the platform's default")
    if raw == TCP and not zmq.has("curve"):
        raise IBXLError("IBXL_HUB_TRANSPORT=tcp needs ZeroMQ with CURVE, which this pyzmq lacks",
                        hint="install a pyzmq wheel (it bundles libsodium), or use IBXL_HUB_TRANSPORT=ipc")
    return raw


def open_transport(directory: Path, kind: str | None = None) -> Transport:
    """The transport of the hub in ``directory``: ``kind``, else :func:`transport_kind`."""
    kind = kind or transport_kind()
    return TcpTransport(directory) if kind == TCP else IpcTransport(directory)


def recorded_endpoints(directory: Path) -> dict[str, str]:
    """The endpoints the running hub wrote to ``hub.json`` (empty when there is none)."""
    try:
        info = json.loads((directory / "hub.json").read_text())
        return {"calls": str(info["calls"]), "quotes": str(info["quotes"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


class Transport:
    """The hub's sockets: which kinds, with which options, at which endpoints. Subclasses say how
    an endpoint is bound and reached and how a socket is secured."""

    kind = ""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        #: the endpoints once bound (the hub), or where the client expects them
        self.calls = ""
        self.quotes = ""

    # ------------------------------------------------------------ what subclasses provide
    def _bind(self, sock: zmq.Socket, name: str) -> str:
        """Secure ``sock`` as the server and bind it; return the endpoint bound."""
        raise NotImplementedError

    def _connect(self, sock: zmq.Socket, name: str) -> None:
        """Secure ``sock`` as a client and connect it to the hub's endpoint ``name`` (when one exists)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for ``ibxl hub status``: the transport and its endpoints."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what serving needed (nothing for local sockets)."""

    @property
    def refused(self) -> int:
        """Connections the hub refused before any message (the transport's own check)."""
        return 0

    # ------------------------------------------------------------ the four sockets
    def bind_calls(self, ctx: zmq.Context) -> zmq.Socket:
        """The hub's ROUTER for calls."""
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.calls = self._bind(sock, "calls")
        return sock

    def bind_quotes(self, ctx: zmq.Context) -> zmq.Socket:
        """The hub's PUB for quote updates."""
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        self.quotes = self._bind(sock, "quotes")
        return sock

    def connect_calls(self, ctx: zmq.Context) -> zmq.Socket:
        """A process's DEALER for calls (queues nothing while the hub is away)."""
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        self._connect(sock, "calls")
        return sock

    def connect_quotes(self, ctx: zmq.Context) -> zmq.Socket:
        """A process's SUB for quote updates (every topic; the process keeps what it has lines for)."""
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        self._connect(sock, "quotes")
        return sock


class IpcTransport(Transport):
    """Local endpoints: ``ipc://`` sockets in the hub directory (fixed paths, so a process reaches a
    restarted hub at the same address)."""

    kind = IPC

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.calls = f"ipc://{directory / 'calls'}"
        self.quotes = f"ipc://{directory / 'quotes'}"
        if len(str(directory / "quotes")) > MAX_IPC_PATH:
            raise IBXLError(f"hub directory {directory} is too long a path for a local socket",
                            hint="set IBXL_HUB_DIR to a shorter path")

    def _bind(self, sock: zmq.Socket, name: str) -> str:
        sock.bind(f"ipc://{self.directory / name}")
        if sys.platform != "win32":
            os.chmod(self.directory / name, 0o600)
        return f"ipc://{self.directory / name}"

    def _connect(self, sock: zmq.Socket, name: str) -> None:
        sock.connect(f"ipc://{self.directory / name}")

    def describe(self) -> str:
        """``ipc <directory>`` (the socket files ``calls`` and ``quotes`` are in it)."""
        return f"ipc (local sockets {self.directory / 'calls'}, {self.directory / 'quotes'})"


# ------------------------------------------------------------ CURVE keys
def curve_dir(directory: Path) -> Path:
    """The folder of the CURVE keys (0700): ``server.key_secret``, ``server.key`` (its public half,
    which processes use to recognise the hub), ``client.key_secret``, and ``clients/`` holding the
    public keys the hub lets in (ZeroMQ certificate files)."""
    path = directory / "curve"
    _private_dir(path)
    _private_dir(path / "clients")
    return path


def _certificate(public: bytes, secret: bytes | None, what: str) -> str:
    lines = [f"#   ibxl hub: {what}", "#   ZeroMQ CURVE certificate (zmq.auth.load_certificate reads it)", "",
             "metadata", "curve", f'    public-key = "{public.decode()}"']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def curve_keypair(directory: Path, role: str) -> tuple[bytes, bytes]:
    """The ``role`` ('server' or 'client') keypair (public, secret), made on first use. The public
    half is written beside it (``<role>.key``); a client's also goes to ``clients/``."""
    folder = curve_dir(directory)
    secret_file, public_file = folder / f"{role}.key_secret", folder / f"{role}.key"
    allowed_file = folder / "clients" / f"{role}.key"
    # two processes starting together make one keypair, not two that overwrite each other
    with FileLock(folder / "keys.lock"):
        if not secret_file.exists():
            public, secret = zmq.curve_keypair()
            _write_private(secret_file, _certificate(public, secret, f"the {role} keypair; keep it private"))
        _check_private_file(secret_file)
        try:
            public, secret_or_none = zmq.auth.load_certificate(secret_file)
        except ValueError:  # cut short (a process ended while writing it)
            secret_or_none = None
        if secret_or_none is None:
            raise IBXLError(f"{secret_file} holds no secret key", hint="delete it; a new keypair is made")
        for path in (public_file, *([allowed_file] if role == "client" else [])):
            if not path.exists():
                _write_private(path, _certificate(public, None, f"the {role} public key"))
    return public, secret_or_none


class _ClientKeys:
    """ZAP credentials: only public keys in ``curve/clients`` get in (re-read, at most once a second,
    when an unknown key knocks, so a key made after the hub started is let in without a restart)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.allowed = self._load()
        self.loaded = time.monotonic()
        self.refused = 0
        self.logged = -LOG_EVERY

    def _load(self) -> set[bytes]:
        with contextlib.suppress(OSError, ValueError):
            return set(zmq.auth.load_certificates(self.folder))
        return set()

    def callback(self, domain: str, key: bytes) -> bool:
        """True when ``key`` (z85) is one of the user's client keys."""
        if key in self.allowed:
            return True
        now = time.monotonic()
        if now - self.loaded >= 1.0:
            self.allowed, self.loaded = self._load(), now
            if key in self.allowed:
                return True
        self.refused += 1
        if now - self.logged >= LOG_EVERY:  # a client retrying every 100 ms must not flood the log
            self.logged = now
            log.warning("refused a connection with an unknown CURVE key (%d so far)", self.refused)
        return False


class TcpTransport(Transport):
    """Loopback TCP with CURVE: the hub binds ``tcp://127.0.0.1:*`` and records the ports in
    ``hub.json``; a process reads them there each time it connects (a restarted hub has new ones)."""

    kind = TCP
    host = "127.0.0.1"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._auth: ThreadAuthenticator | None = None
        self._keys: _ClientKeys | None = None
        self._lock = threading.Lock()
        self._client: tuple[bytes, bytes] | None = None

    @property
    def refused(self) -> int:
        """Connections the hub refused because their key is not the user's."""
        return self._keys.refused if self._keys is not None else 0

    def _bind(self, sock: zmq.Socket, name: str) -> str:
        with self._lock:
            if self._auth is None:
                # the client keypair exists before any process asks, so the first one is let in
                curve_keypair(self.directory, "client")
                self._keys = _ClientKeys(curve_dir(self.directory) / "clients")
                auth = ThreadAuthenticator(sock.context, log=logging.getLogger("ibxl.hub.zap"))
                auth.start()
                auth.configure_curve_callback(ZAP_DOMAIN.decode(), credentials_provider=self._keys)
                self._auth = auth
        public, secret = curve_keypair(self.directory, "server")
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
        sock.bind(f"tcp://{self.host}:*")
        return str(sock.getsockopt_string(zmq.LAST_ENDPOINT))

    def _connect(self, sock: zmq.Socket, name: str) -> None:
        endpoint = recorded_endpoints(self.directory).get(name, "")
        try:
            server_key = zmq.auth.load_certificate(curve_dir(self.directory) / "server.key")[0]
        except (OSError, ValueError):
            server_key = b""
        if not endpoint.startswith("tcp://") or not server_key:
            return  # no tcp hub runs: the socket stays unconnected, so nothing is sent and nothing answers
        with self._lock:
            if self._client is None:
                self._client = curve_keypair(self.directory, "client")
            public, secret = self._client
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        sock.connect(endpoint)
        if name == "calls":
            self.calls = endpoint
        else:
            self.quotes = endpoint

    def describe(self) -> str:
        """``tcp+CURVE`` and the loopback endpoints."""
        return f"tcp+CURVE (calls {self.calls or '-'}, quotes {self.quotes or '-'})"

    def close(self) -> None:
        """Stop the ZAP handler."""
        with self._lock:
            auth, self._auth = self._auth, None
        if auth is not None:
            auth.stop()



def endpoint_kind(endpoint: str) -> str:
    """The transport an endpoint belongs to ('ipc', 'tcp' or '')."""
    scheme = endpoint.partition("://")[0]
    return scheme if scheme in (IPC, TCP) else ""
