"""The hub process: the desk's one connection to TWS, IB Gateway or the embedded gateway.

It runs the data layer in direct mode and serves it: calls of ``@on_hub`` functions run on a
pool of worker threads (a long history request never holds up a quote), market-data lines are
shared by every attached process (reference counted per process, given back when a process stops
sending heartbeats), and every quote update is published once for all of them. It exits after
``IBXL_HUB_IDLE`` seconds with no process attached, or on ``ibxl hub stop``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import platform
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from filelock import Timeout

from .. import config, connection, remote
from ..connection import ClientIdInUse
from ..errors import IBXLError
from . import codec, system
from .transport import hub_dir, hub_lock, load_key, open_transport

log = logging.getLogger("ibxl.hub")

#: a process that sent no heartbeat for this long is gone: its lines are given back
DEAD_SECONDS = 5.0
#: default seconds the hub stays up with no process attached (``IBXL_HUB_IDLE``)
IDLE_SECONDS = 600.0
#: how many further client ids the hub tries when TWS says its id is in use (326)
CLIENT_ID_TRIES = 10
WORKERS = 16
#: calls slower than this are logged (history of years of small bars, large chains)
SLOW_SECONDS = 2.0


def idle_seconds() -> float:
    """How long the hub waits with no process attached before it exits."""
    try:
        return float(os.environ.get("IBXL_HUB_IDLE", "") or IDLE_SECONDS)
    except ValueError:
        raise ValueError(f"IBXL_HUB_IDLE={os.environ['IBXL_HUB_IDLE']!r} is not a number of seconds") from None


@dataclass
class Proc:
    """One attached process: what it holds and when it was last heard from."""

    proc: str
    pid: int
    last_seen: float
    holds: dict[str, Any] = field(default_factory=dict)


class Hub:
    """The hub: bind, connect to IB, serve until stopped or idle."""

    def __init__(self, settings: config.Settings, directory: Path | None = None, idle: float | None = None) -> None:
        self.settings = settings
        self.directory = directory or hub_dir()
        self.key = load_key(self.directory)
        self.transport = open_transport(self.directory)
        self.idle = idle_seconds() if idle is None else idle
        self.instance = uuid.uuid4().hex
        self.started = time.time()
        self.procs: dict[str, Proc] = {}
        self.procs_lock = threading.Lock()
        self.ctx = zmq.Context()
        self.pub_lock = threading.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="ibxl-hub")
        # opening and holding lines never waits behind long calls (history can take minutes)
        self.line_pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ibxl-hub-lines")
        self.local = threading.local()
        self.stopping = threading.Event()
        self.client: connection.Client | None = None
        self.client_id = settings.client_id
        self.refused = 0
        self.calls = 0
        self.published = 0
        self._lock = hub_lock(self.directory)
        self._locked = False

    # ------------------------------------------------------------ start and stop
    def _take_lock(self) -> None:
        try:
            self._lock.acquire()  # held for the hub's life; a second hub here gives up at once
        except Timeout:
            raise IBXLError(f"another hub already runs in {self.directory}",
                            hint="stop it with `ibxl hub stop`, or give this hub its own IBXL_HUB_DIR") from None
        self._locked = True

    def _connect(self) -> connection.Client:
        """Connect with the configured client id, or the next free one when TWS says it is in use."""
        remote.set_mode(remote.HUB)
        cid = self.settings.client_id
        for _ in range(CLIENT_ID_TRIES):
            try:
                c = connection.connect(self.settings.host, self.settings.port, cid, self.settings.account or None,
                                       sim=self.settings.sim, timeout=self.settings.timeout, hub=False)
            except ClientIdInUse:
                log.warning("client id %s is in use by another API connection; trying %s", cid, cid + 1)
                cid += 1
                continue
            if cid != self.settings.client_id:
                log.warning("connected with client id %s (%s was in use); set client_id in the config file "
                            "to choose one", cid, self.settings.client_id)
            self.client_id = cid
            return c
        raise ClientIdInUse(cid - 1)

    def start(self) -> None:
        """Bind the endpoints and connect (raises when another hub runs here or IB is unreachable)."""
        self._take_lock()
        self.client = self._connect()
        from ..live import registry

        reg = registry()
        reg.update_listeners.append(self._publish)
        reg.close_listeners.append(self._publish_closed)
        self.router = self.transport.bind_calls(self.ctx)
        self.pub = self.transport.bind_quotes(self.ctx)
        self.replies = self.ctx.socket(zmq.PULL)
        self.replies.bind(f"inproc://replies-{self.instance}")
        self._write_info({
            "pid": os.getpid(), "instance": self.instance, "transport": self.transport.kind,
            "calls": self.transport.calls, "quotes": self.transport.quotes, "sim": self.client.sim,
            "host": self.client.host, "port": self.client.port, "client_id": self.client_id,
            "started": self.started})
        log.info("hub %s serving over %s (IB at %s:%s, client id %s, sim=%s)", os.getpid(),
                 self.transport.describe(), self.client.host, self.client.port, self.client_id, self.client.sim)

    def _write_info(self, info: dict[str, Any]) -> None:
        # whole or not at all: a process reading hub.json for the endpoints never sees half of it
        path, tmp = self.directory / "hub.json", self.directory / f"hub.json.{os.getpid()}"
        tmp.write_text(json.dumps(info))
        for attempt in range(20):
            try:
                os.replace(tmp, path)
                return
            except PermissionError:  # Windows: a reader has it open this instant
                if attempt == 19:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        """Stop serving, give every line back and disconnect (stopping an embedded gateway)."""
        self.stopping.set()
        time.sleep(0.1)  # let the last replies (the answer to "stop") leave
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.line_pool.shutdown(wait=False, cancel_futures=True)
        if self._locked:  # a hub that lost the race for the lock leaves the running one's files alone
            for name in ("hub.json", "calls", "quotes"):
                with contextlib.suppress(OSError):
                    (self.directory / name).unlink()
            with contextlib.suppress(Exception):
                connection.disconnect()
        # the bound sockets close before the transport's guard (CURVE's ZAP handler) stops
        with contextlib.suppress(AttributeError), self.pub_lock:
            self.pub.close(0)
        with contextlib.suppress(AttributeError):
            self.router.close(0)
        self.transport.close()
        self.ctx.destroy(linger=0)
        if self._locked:
            self._lock.release()
        log.info("hub %s stopped", os.getpid())

    # ------------------------------------------------------------ publishing (any thread)
    def _publish(self, lines: list[Any]) -> None:
        with self.pub_lock:
            if self.stopping.is_set():
                return
            now = time.time()
            for i in range(0, len(lines), 500):
                keys, records = codec.pack_quotes([(x.key, x.snapshot, x.origin or now) for x in lines[i:i + 500]])
                self.pub.send_multipart([b"Q", codec.sign(self.key, [b"Q", keys, records]), keys, records])
            self.published += len(lines)

    def _publish_closed(self, key: str) -> None:
        with self.pub_lock:
            if self.stopping.is_set():
                return
            keys = key.encode()
            self.pub.send_multipart([b"C", codec.sign(self.key, [b"C", keys, b""]), keys, b""])
        with self.procs_lock:
            for p in self.procs.values():
                p.holds.pop(key, None)

    # ------------------------------------------------------------ replies
    def _reply_frames(self, ident: list[bytes], req_id: Any, ok: bool, value: Any) -> list[bytes]:
        try:
            body, buffers = codec.dumps(value)
        except TypeError as exc:
            ok, (body, buffers) = False, codec.dumps(codec.error_info(exc))
        header = json.dumps({"id": req_id, "ok": ok, "instance": self.instance}).encode()
        frames = [header, body, *buffers]
        return [*ident, codec.sign(self.key, frames), *frames]

    def _send_from_worker(self, frames: list[bytes]) -> None:
        sock = getattr(self.local, "push", None)
        if sock is None:
            sock = self.ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(f"inproc://replies-{self.instance}")
            self.local.push = sock
        sock.send_multipart(frames, copy=False)

    def _work(self, ident: list[bytes], header: dict, body: Any) -> None:
        t0 = time.perf_counter()
        try:
            value = self._handle(header, body)
            ok = True
        except BaseException as exc:  # every failure goes back to the caller, as itself
            if not isinstance(exc, IBXLError | ValueError | KeyError | TypeError):
                log.exception("call %s failed", header.get("op"))
            value, ok = codec.error_info(exc), False
        t1 = time.perf_counter()
        if not self.stopping.is_set():
            self._send_from_worker(self._reply_frames(ident, header.get("id"), ok, value))
        if t1 - t0 > SLOW_SECONDS:
            log.info("%s %s took %.1f s", header.get("op"), body.get("name", "") if isinstance(body, dict) else "",
                     t1 - t0)

    # ------------------------------------------------------------ requests
    def _proc(self, header: dict) -> Proc:
        proc_id = str(header.get("proc", ""))
        if not proc_id or proc_id.startswith("ctl-"):
            # a probe or a control command (`ibxl hub status`) is not an attached process
            return Proc(proc_id, int(header.get("pid", 0)), time.monotonic())
        with self.procs_lock:
            p = self.procs.get(proc_id)
            if p is None:
                p = Proc(proc_id, int(header.get("pid", 0)), time.monotonic())
                self.procs[proc_id] = p
                log.info("process %s attached", p.pid)
            p.last_seen = time.monotonic()
            return p

    def _handle(self, header: dict, body: Any) -> Any:
        from ..live import registry

        op = header.get("op")
        if op == "call":
            fn = remote.registered(str(body.get("name", "")))
            if fn is None:
                raise IBXLError(f"{body.get('name')!r} is not a function the hub serves")
            self.calls += 1
            with config.scoped(body.get("ctx")):
                return fn(*body.get("args", ()), **body.get("kwargs", {}))
        p = self._proc(header)
        if op == "open":
            return registry().line(str(body["text"])).snapshot
        if op == "hold":
            key, held = str(body["key"]), bool(body["held"])
            with self.procs_lock:
                handle = p.holds.pop(key, None)
            if handle is not None:
                handle.release()
            if held:
                handle = registry().subscribe(key, owner=p.proc)
                with self.procs_lock:
                    p.holds[key] = handle
            return True
        if op == "status":
            return self.status()
        raise IBXLError(f"unknown request {op!r}")

    def _inline(self, header: dict, body: Any) -> Any:
        """Requests answered on the main thread at once (no IB traffic)."""
        op = header["op"]
        with self.procs_lock:
            existed = str(header.get("proc", "")) in self.procs
        p = self._proc(header)
        # a process that this hub does not know (restarted, or dropped as dead) restores its lines
        known = existed and isinstance(body, dict) and body.get("known_instance") == self.instance
        if op == "hello":
            c = self.client
            return {"instance": self.instance, "pid": os.getpid(), "sim": bool(c and c.sim),
                    "host": c.host if c else "", "port": c.port if c else 0, "client_id": self.client_id}
        if op == "beat":
            from ..live import registry

            reg = registry()
            for key in body.get("read", []):
                reg.cached(key)
            return {"instance": self.instance, "known": known}
        if op == "forget":
            key = str(body["key"])
            with self.procs_lock:
                handle = p.holds.pop(key, None)
            if handle is not None:
                handle.release()
            return True
        if op == "bye":
            self._drop(p.proc)
            return True
        if op == "stop":
            self.stopping.set()
            return True
        raise IBXLError(f"unknown request {op!r}")

    def _drop(self, proc_id: str) -> None:
        with self.procs_lock:
            p = self.procs.pop(proc_id, None)
        if p is not None:
            for handle in p.holds.values():
                handle.release()
            log.info("process %s detached (%d lines given back)", p.pid, len(p.holds))

    def status(self) -> dict[str, Any]:
        """The hub's state for ``ibxl hub status``."""
        from .. import bars
        from ..live import registry

        st = connection.status()
        reg = registry()
        held = sorted(key for key, is_held in reg.held() if is_held)
        with self.procs_lock:
            procs = sorted({p.pid for p in self.procs.values()})
        store = config.load().cache_path / "bars.duckdb"
        return {**st, "hub_pid": os.getpid(), "hub_dir": str(self.directory), "instance": self.instance,
                "processes": len(procs), "pids": procs, "lines": reg.lines_open(), "line_budget": reg.max_lines,
                "lines_held": len(held), "held": held,
                "pacing_headroom": bars.scheduler().headroom(),
                "store_bytes": store.stat().st_size if store.exists() else 0,
                "calls": self.calls, "updates": reg.updates, "published": self.published, "refused": self.refused,
                "transport": self.transport.kind, "endpoints": self.transport.describe(),
                "refused_connections": self.transport.refused,
                "uptime": round(time.time() - self.started, 1)}

    # ------------------------------------------------------------ main loop
    def serve(self) -> None:
        """Answer requests until stopped, or idle for ``idle`` seconds."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.replies, zmq.POLLIN)
        last_active = time.monotonic()
        inline_ops = {"hello", "beat", "forget", "bye", "stop"}
        while not self.stopping.is_set():
            events = dict(poller.poll(250))
            if self.replies in events:
                while True:
                    try:
                        self.router.send_multipart(self.replies.recv_multipart(zmq.NOBLOCK, copy=False), copy=False)
                    except zmq.Again:
                        break
            if self.router in events:
                while True:
                    try:
                        frames = self.router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._dispatch(frames, inline_ops)
            now = time.monotonic()
            with self.procs_lock:
                dead = [p.proc for p in self.procs.values() if now - p.last_seen > DEAD_SECONDS]
                attached = bool(self.procs)
            for proc_id in dead:
                self._drop(proc_id)
            if attached:
                last_active = now
            elif now - last_active > self.idle:
                log.info("no process attached for %.0f s; stopping", self.idle)
                break

    def _dispatch(self, frames: list[bytes], inline_ops: set[str]) -> None:
        # ROUTER frames: identity, signature, header, body, buffers...
        if len(frames) < 4:
            self.refused += 1
            log.warning("refused a malformed message (%d frames)", len(frames))
            return
        ident, signature, rest = frames[:1], frames[1], frames[2:]
        try:
            codec.verify(self.key, signature, rest)
        except codec.BadSignature:
            self.refused += 1
            log.warning("refused a message with a bad signature")
            return
        try:
            header = json.loads(rest[0])
            body = codec.loads(rest[1], rest[2:])
        except (ValueError, TypeError, KeyError) as exc:
            self.refused += 1
            log.warning("refused an undecodable message: %s", exc)
            return
        if header.get("op") in inline_ops:
            try:
                value, ok = self._inline(header, body), True
            except Exception as exc:
                value, ok = codec.error_info(exc), False
            self.router.send_multipart(self._reply_frames(ident, header.get("id"), ok, value), copy=False)
        else:
            self._proc(header)
            pool = self.pool if header.get("op") == "call" else self.line_pool
            pool.submit(self._work, ident, header, body)


#: glibc's mallopt parameters, and the values the hub uses (see _keep_large_blocks)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 128 * 1024 * 1024


def _keep_large_blocks() -> None:
    """Let glibc reuse freed multi-megabyte blocks instead of unmapping them.

    The hub builds a DataFrame and its reply buffers for every history call on pool threads, then
    frees them once sent. By default glibc maps each such block fresh and unmaps it on free, so
    every reply pays for page faults on new memory: a third of the cost of a 100,000-bar reply.
    Keeping them (up to TRIM_THRESHOLD of free memory) makes the next reply reuse warm pages.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.debug("could not set glibc's malloc thresholds; large replies allocate fresh memory")


def run(settings: config.Settings, directory: Path | None = None) -> int:
    """Run a hub in this process until it is stopped (the ``ibxl hub serve`` command)."""
    directory = directory or hub_dir()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ib_async").setLevel(logging.WARNING)  # TWS's errors stay in the log, not every order
    _keep_large_blocks()
    hub = Hub(settings, directory)
    try:
        hub.start()
    except Exception as exc:
        log.error("hub could not start: %s", exc)
        hub.close()
        return 1

    def on_signal(signum: int, frame: object) -> None:
        hub.stopping.set()

    for sig in system.stop_signals():
        signal.signal(sig, on_signal)
    try:
        hub.serve()
    finally:
        hub.close()
    return 0
