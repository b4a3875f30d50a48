"""A process's attachment to the hub: calls go out as signed requests, quote updates come in on a
subscription and land in the process's own quote cache (so a warm ``ibxl.quote`` never leaves
the process), and a heartbeat tells the hub the process is alive.

When the hub stops answering (killed, or its machine's TWS login ended it), every quote is marked
stale at once, a new hub is started, and every line the process had is opened again; a call that
was in flight fails rather than being sent twice.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import zmq
from filelock import FileLock

from .. import config, remote
from ..errors import IBXLError, NotConnected, RequestTimeout
from ..live import QuoteSnapshot, registry
from . import codec, system
from .transport import Transport, endpoint_kind, hub_dir, load_key, open_transport, recorded_endpoints, transport_kind

log = logging.getLogger("ibxl.hub")

BEAT_SECONDS = 0.5
#: no heartbeat answer for this long: the hub is gone
DOWN_SECONDS = 1.5
#: how long a starting hub may take to answer (the embedded gateway starts with it)
START_SECONDS = 60.0
CALL_TIMEOUT = 24 * 3600.0


def _request_once(ctx: zmq.Context, transport: Transport, key: bytes, op: str, body: Any, timeout: float,
                  proc: str = "") -> Any:
    """One request on a socket of its own (None when nothing answers within ``timeout``)."""
    sock = transport.connect_calls(ctx)
    try:
        frames = _frames(op, 0, proc, body)
        if not sock.poll(int(timeout * 1000), zmq.POLLOUT):
            return None
        sock.send_multipart([codec.sign(key, frames), *frames])
        if not sock.poll(int(timeout * 1000)):
            return None
        reply = sock.recv_multipart()
        codec.verify(key, reply[0], reply[1:])
        header = json.loads(reply[1])
        value = codec.loads(reply[2], reply[3:])
        if not header.get("ok"):
            raise codec.rebuild_error(value)
        return value
    finally:
        sock.close(0)


def _frames(op: str, req_id: int, proc: str, body: Any) -> list[bytes]:
    data, buffers = codec.dumps(body)
    header = json.dumps({"op": op, "id": req_id, "proc": proc, "pid": os.getpid()}).encode()
    return [header, data, *buffers]


def ping(directory: Path | None = None, timeout: float = 1.0) -> dict[str, Any] | None:
    """The running hub's hello (pid, instance, target), or None when no hub answers."""
    directory = directory or hub_dir()
    ctx: zmq.Context = zmq.Context.instance()
    return _request_once(ctx, open_transport(directory), load_key(directory), "hello", {}, timeout)


def request(op: str, body: Any = None, directory: Path | None = None, timeout: float = 10.0) -> Any:
    """One control request (status, stop) to the hub; NotConnected when none answers. It goes over
    the transport the running hub recorded, so ``ibxl hub status|stop`` reach it whatever this
    process's setting."""
    directory = directory or hub_dir()
    ctx: zmq.Context = zmq.Context.instance()
    recorded = endpoint_kind(recorded_endpoints(directory).get("calls", ""))
    value = _request_once(ctx, open_transport(directory, recorded or None), load_key(directory), op, body or {},
                          timeout, proc=f"ctl-{uuid.uuid4().hex}")
    if value is None:
        raise NotConnected(f"no hub answers in {directory}", code=0, hint="start one with `ibxl hub start`")
    return value


def _spawn(directory: Path, settings: config.Settings) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ibxl", "hub", "serve", "--client-id", str(settings.client_id)]
    cmd += ["--sim"] if settings.sim else ["--host", settings.host, "--port", str(settings.port)]
    env = {**os.environ, "IBXL_HUB_DIR": str(directory)}
    env.pop("IBXL_SIM", None)
    logfile = open(directory / "hub.log", "ab")  # noqa: SIM115 - handed to the hub process
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                                close_fds=True, env=env, cwd=str(directory), **system.detached())
    finally:
        logfile.close()
    # reap it when it ends, so a hub that outlives its purpose leaves no zombie behind
    threading.Thread(target=proc.wait, name="ibxl-hub-reaper", daemon=True).start()
    return proc


def ensure_hub(directory: Path, settings: config.Settings, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hub's hello, starting a hub (detached: it outlives this process) when none answers."""
    with FileLock(directory / "start.lock"):  # processes starting together start one hub
        info = ping(directory, timeout=0.5)
        if info is None:
            _check_transport(directory)
            proc = _spawn(directory, settings)
            deadline = time.monotonic() + START_SECONDS
            while info is None:
                if proc.poll() is not None:
                    log_file = directory / "hub.log"
                    raise NotConnected(f"the hub could not start (see {log_file}): {_last_error(directory)}",
                                       code=502)
                if time.monotonic() > deadline:
                    log_file = directory / "hub.log"
                    raise NotConnected(f"the hub did not answer within {START_SECONDS:g} s (see {log_file})")
                info = ping(directory, timeout=0.5)
    _check_target(info, directory, explicit or {})
    return info


def _check_transport(directory: Path) -> None:
    """Raise when a hub still runs here over the other transport (this process cannot reach it,
    and a second hub would refuse to start)."""
    try:
        info = json.loads((directory / "hub.json").read_text())
        kind, pid = endpoint_kind(str(info.get("calls", ""))), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    ours = transport_kind()
    if kind and kind != ours and system.alive(pid):
        raise IBXLError(f"the hub running in {directory} (pid {pid}) uses the {kind} transport; this process "
                        f"uses {ours}", hint=f"set IBXL_HUB_TRANSPORT={kind} for this process, or stop that hub "
                                             "with `ibxl hub stop` (every process of a desk uses one transport)")


def _last_error(directory: Path) -> str:
    try:
        lines = (directory / "hub.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    errs = [x for x in lines if "ERROR" in x or "Error" in x]
    return (errs or lines or ["no log"])[-1]


def _check_target(info: dict[str, Any], directory: Path, explicit: dict[str, Any]) -> None:
    hint = f"stop it with `ibxl hub stop`, or give this process its own hub with IBXL_HUB_DIR (now {directory})"
    where = "the embedded gateway" if info.get("sim") else f"{info.get('host')}:{info.get('port')}"
    if explicit.get("sim") and not info.get("sim"):
        raise IBXLError(f"the running hub is connected to {where}, not to the embedded gateway", hint=hint)
    if explicit.get("sim") is False and info.get("sim") or (
            explicit.get("port") and not info.get("sim") and int(explicit["port"]) != int(info.get("port", 0))):
        raise IBXLError(f"the running hub is connected to {where}", hint=hint)


class HubLink:
    """This process's attachment: calls, line holds, the quote stream and the heartbeat."""

    def __init__(self, directory: Path, settings: config.Settings, info: dict[str, Any]) -> None:
        self.directory = directory
        self.settings = settings
        self.transport: Transport = open_transport(directory)
        self.key = load_key(directory)
        self.ctx = zmq.Context()
        self.proc = uuid.uuid4().hex
        self.instance = str(info["instance"])
        self.info = info
        self.generation = 0
        self.local = threading.local()
        self.up = threading.Event()
        self.up.set()
        self.closed = threading.Event()
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._pump, name="ibxl-hub-link", daemon=True)
        # the pump thread's poller and quote subscription (replaced when the hub restarts)
        self._poller = zmq.Poller()
        self._sub: zmq.Socket | None = None

    # ------------------------------------------------------------ what connect() returns
    @property
    def connected(self) -> bool:
        """True while the hub answers (its own connection to IB is in ``ibxl.status()``)."""
        return self.up.is_set() and not self.closed.is_set()

    @property
    def sim(self) -> bool:
        """True when the hub runs the embedded gateway."""
        return bool(self.info.get("sim"))

    @property
    def host(self) -> str:
        """Where the hub's connection goes."""
        return str(self.info.get("host", ""))

    @property
    def port(self) -> int:
        """The port of the hub's connection."""
        return int(self.info.get("port", 0))

    def __repr__(self) -> str:
        return f"<ibxl hub link {self.directory} pid={self.info.get('pid')} sim={self.sim}>"

    # ------------------------------------------------------------ requests
    def _socket(self) -> zmq.Socket:
        sock = getattr(self.local, "sock", None)
        if sock is None or self.local.generation != self.generation:
            if sock is not None:
                sock.close(0)  # anything still queued there belongs to a hub that is gone
            sock = self.transport.connect_calls(self.ctx)
            self.local.sock, self.local.generation = sock, self.generation
        return sock

    def request(self, op: str, body: Any, timeout: float = CALL_TIMEOUT, wait_up: bool = True) -> Any:
        """Send one request to the hub and return its answer (or raise its error)."""
        if self.closed.is_set():
            raise NotConnected("this process has left the hub", hint="call ibxl.connect() again")
        if wait_up and not self.up.wait(10.0):
            raise NotConnected("the hub is not answering and could not be restarted", code=504,
                               hint=f"see {self.directory / 'hub.log'}")
        generation = self.generation
        sock = self._socket()
        req_id = next(self._ids)
        frames = _frames(op, req_id, self.proc, body)
        if not sock.poll(2000, zmq.POLLOUT):
            raise NotConnected("the hub is not answering", code=504)
        sock.send_multipart([codec.sign(self.key, frames), *frames], copy=False)
        deadline = time.monotonic() + timeout
        while True:
            if sock.poll(100):
                reply = [f.buffer if len(f) > 65536 else f.bytes for f in sock.recv_multipart(copy=False)]
                try:
                    codec.verify(self.key, reply[0], reply[1:])
                except codec.BadSignature:
                    log.warning("dropped a reply with a bad signature")
                    continue
                header = json.loads(bytes(reply[1]))
                if header.get("id") != req_id:
                    continue  # the late answer to a request that timed out
                value = codec.loads(reply[2], reply[3:])
                if not header.get("ok"):
                    raise codec.rebuild_error(value)
                return value
            if self.generation != generation:
                raise NotConnected("the hub stopped while answering this call; it was not repeated", code=504,
                                   hint="call again (a new hub is starting); an order key is never sent twice")
            if time.monotonic() > deadline:
                self.local.sock = None
                sock.close(0)
                raise RequestTimeout(f"the hub did not answer {op} within {timeout:g} s")

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        """Run the registered function ``name`` in the hub with this process's order guards."""
        return self.request("call", {"name": name, "args": list(args), "kwargs": kwargs,
                                     "ctx": config.caller_settings()})

    # ------------------------------------------------------------ lines (the registry's LineSource)
    def open(self, text: str) -> QuoteSnapshot:
        """Join the desk's line of a contract and return its current snapshot."""
        return self.request("open", {"text": text}, timeout=60.0)

    def hold(self, key: str, held: bool) -> None:
        """Tell the hub whether this process holds the line (letting go never waits for a hub
        that is away: a new hub learns only the holds that remain)."""
        if held:
            self.request("hold", {"key": key, "held": True}, timeout=60.0)
            return
        with contextlib.suppress(IBXLError):
            self.request("hold", {"key": key, "held": False}, timeout=5.0, wait_up=False)

    def forget(self, key: str) -> None:
        """This process no longer reads the line."""
        with contextlib.suppress(IBXLError):
            self.request("forget", {"key": key}, timeout=5.0, wait_up=False)

    def _restore(self) -> None:
        """Open every line of this process again on a new hub (holds included)."""
        reg = registry()
        for key, held in reg.held():
            try:
                snap = self.request("open", {"text": key}, timeout=30.0, wait_up=False)
                reg.apply(snap)
                if held:
                    self.request("hold", {"key": key, "held": True}, timeout=30.0, wait_up=False)
            except IBXLError as exc:
                log.warning("could not restore the line of %s: %s", key, exc)

    # ------------------------------------------------------------ the stream and the heartbeat
    def start(self) -> HubLink:
        """Say hello and start the stream and heartbeat thread."""
        self.request("hello", {}, timeout=5.0)
        self._thread.start()
        return self

    def _apply(self, frames: list[bytes]) -> None:
        if len(frames) != 4:
            return
        topic, signature, keys, records = frames
        try:
            codec.verify(self.key, signature, [topic, keys, records])
        except codec.BadSignature:
            log.warning("dropped a quote update with a bad signature")
            return
        reg = registry()
        if topic == b"C":
            reg.drop(keys.decode())
            return
        now = time.monotonic()
        for key, values, t, origin, stale in codec.unpack_quotes(keys, records, wanted=reg):
            reg.apply_values(key, values, t, stale, origin, now)

    def _subscribe(self) -> None:
        """(Re)connect the quote stream: over tcp a restarted hub publishes at a new address."""
        if self._sub is not None:
            self._poller.unregister(self._sub)
            self._sub.close(0)
        self._sub = self.transport.connect_quotes(self.ctx)
        self._poller.register(self._sub, zmq.POLLIN)

    def _pump(self) -> None:
        poller = self._poller
        self._subscribe()
        beat = self.transport.connect_calls(self.ctx)
        poller.register(beat, zmq.POLLIN)
        last_ok = last_beat = last_sweep = time.monotonic()
        reg = registry()
        while not self.closed.is_set():
            try:
                events = dict(poller.poll(50))
            except zmq.ZMQError:
                return
            sub = self._sub
            if sub is not None and sub in events:
                for _ in range(10_000):
                    try:
                        self._apply(sub.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break
            if beat in events:
                while True:
                    try:
                        reply = beat.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    try:
                        codec.verify(self.key, reply[0], reply[1:])
                    except codec.BadSignature:
                        continue
                    if not json.loads(reply[1]).get("ok"):
                        continue
                    answer = codec.loads(reply[2], reply[3:])
                    last_ok = time.monotonic()
                    if answer["instance"] != self.instance or not answer["known"]:
                        # a new hub (started by another process) or one that gave us up: restore
                        if answer["instance"] != self.instance:
                            self._subscribe()
                        self.instance = answer["instance"]
                        self.info = ping(self.directory) or self.info
                        self._restore()
            now = time.monotonic()
            if now - last_beat >= BEAT_SECONDS:
                frames = _frames("beat", 0, self.proc, {"read": reg.read_since(last_beat - BEAT_SECONDS),
                                                         "known_instance": self.instance})
                with contextlib.suppress(zmq.Again):
                    beat.send_multipart([codec.sign(self.key, frames), *frames], zmq.NOBLOCK)
                last_beat = now
            if now - last_sweep >= 5.0:
                last_sweep = now
                for key in reg.idle_keys():
                    reg.drop(key)
                    self.forget(key)
            if now - last_ok > DOWN_SECONDS:
                poller.unregister(beat)
                beat.close(0)
                self._recover()
                beat = self.transport.connect_calls(self.ctx)
                poller.register(beat, zmq.POLLIN)
                last_ok = last_beat = time.monotonic()

    def _recover(self) -> None:
        """The hub is gone: mark quotes stale, start a new hub, open every line again."""
        self.up.clear()
        self.generation += 1
        registry().mark_stale()
        log.warning("the hub stopped answering; starting a new one")
        # the new hub connects where the old one did, whoever started that one
        target = dataclasses.replace(self.settings, sim=bool(self.info.get("sim")))
        if not target.sim and self.info.get("port"):
            target = dataclasses.replace(target, host=str(self.info["host"]), port=int(self.info["port"]))
        while not self.closed.is_set():
            try:
                self.info = ensure_hub(self.directory, target)
                break
            except IBXLError as exc:
                log.warning("could not restart the hub: %s", exc)
                time.sleep(1.0)
        self.instance = str(self.info["instance"])
        self.request("hello", {}, timeout=10.0, wait_up=False)
        self._subscribe()  # before the lines are opened again, so no update after their snapshot is missed
        self._restore()
        self.up.set()

    def close(self) -> None:
        """Leave the hub (it gives this process's lines back) and stop the link's thread."""
        if self.closed.is_set():
            return
        with contextlib.suppress(Exception):
            if self.up.is_set():
                self.request("bye", {}, timeout=1.0, wait_up=False)
        self.closed.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if registry().source is self:
            registry().use_source(None)
        self.ctx.destroy(linger=0)


_lock = threading.Lock()
_link: HubLink | None = None


def attach(settings: config.Settings | None = None, explicit: dict[str, Any] | None = None) -> HubLink:
    """Attach this process to the hub in ``IBXL_HUB_DIR`` (starting one when none answers)."""
    global _link
    with _lock:
        directory = hub_dir()
        if _link is not None and not _link.closed.is_set() and _link.directory == directory:
            _check_target(_link.info, directory, explicit or {})
            return _link
        if _link is not None:
            _link.close()
        settings = settings or config.load()
        for attempt in range(2):
            info = ensure_hub(directory, settings, explicit)
            link = HubLink(directory, settings, info)
            try:
                link.start()
                break
            except (NotConnected, RequestTimeout):
                # the hub we found was just ending (idle); the next one answers
                link.close()
                if attempt:
                    raise
        registry().use_source(link)
        remote.set_mode(remote.ATTACHED, link)
        _link = link
        return link


@atexit.register
def _leave() -> None:
    if _link is not None:
        _link.close()
