"""The gateway under abuse: malformed frames, garbage, many clients, duplicate ids, floods."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

from ib_async import IB, Stock

from ibxl.sim import SimConfig, SimGateway


def _handshake(sock: socket.socket, lo: int = 157, hi: int = 178) -> bytes:
    payload = f"v{lo}..{hi}".encode()
    sock.sendall(b"API\0" + struct.pack(">I", len(payload)) + payload)
    size = struct.unpack(">I", _recv_exact(sock, 4))[0]
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def _read_messages(sock: socket.socket, until, timeout: float = 5.0) -> list[list[str]]:
    """Read whole frames until one satisfies ``until``."""
    sock.settimeout(timeout)
    out: list[list[str]] = []
    while True:
        size = struct.unpack(">I", _recv_exact(sock, 4))[0]
        fields = _recv_exact(sock, size).decode().split("\0")[:-1]
        out.append(fields)
        if until(fields):
            return out


def _closed(sock: socket.socket, timeout: float = 3.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_fuzzed_frames_close_only_the_offender():
    with SimGateway(SimConfig(seed=1, tick_interval=0.05)) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=1)
        c = Stock("AAPL", "SMART", "USD")
        ib.qualifyContracts(c)
        ticker = ib.reqMktData(c)
        updates = []
        ticker.updateEvent += lambda t: updates.append(t.bid)
        rng = random.Random(1234)
        kinds = ["garbage", "oversize", "zero", "truncated", "bad_id", "bad_field", "no_start", "bad_handshake"]
        for i in range(60):
            kind = kinds[i % len(kinds)]
            s = socket.create_connection((gw.host, gw.port), timeout=5)
            try:
                if kind == "bad_handshake":
                    s.sendall(b"GET / HTTP/1.1\r\n\r\n")
                    assert _closed(s)
                    continue
                _handshake(s)
                if kind == "garbage":
                    s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
                elif kind == "oversize":
                    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"x" * 10)
                    assert _closed(s)
                elif kind == "zero":
                    s.sendall(struct.pack(">I", 0))
                    assert _closed(s)
                elif kind == "truncated":
                    s.sendall(struct.pack(">I", 100) + b"71\x002\x00")
                elif kind == "bad_id":
                    s.sendall(_frame(71, 2, 50 + i, "") + _frame("abc", 1) + _frame(9999, 1))
                elif kind == "bad_field":
                    s.sendall(_frame(71, 2, 50 + i, "") + _frame(1, 11, "notanumber", 0, "AAPL"))
                elif kind == "no_start":
                    s.sendall(_frame(1, 11, 5, 0, "AAPL", "STK"))
            finally:
                s.close()
            ib.sleep(0.01)
        before = len(updates)
        ib.sleep(1.0)
        assert ib.isConnected() and len(updates) > before, "the well-behaved client keeps streaming"
        assert len(gw.gateway.sessions) == 1
        ib.disconnect()


def test_bad_fields_get_error_320_and_the_connection_stays(gateway):
    s = socket.create_connection((gateway.host, gateway.port), timeout=5)
    _handshake(s)
    s.sendall(_frame(71, 2, 901, ""))
    s.sendall(_frame(1, 11, "notanumber", 0, "AAPL"))
    s.sendall(_frame(49, 1))  # reqCurrentTime still answered afterwards
    msgs = _read_messages(s, until=lambda m: m[0] == "49")
    assert any(m[0] == "4" and m[3] == "320" and "notanumber" in m[4] for m in msgs)
    assert msgs[-1][0] == "49" and int(msgs[-1][2]) > 0
    s.close()


def test_version_range_without_176_is_refused(gateway):
    s = socket.create_connection((gateway.host, gateway.port), timeout=5)
    payload = b"v100..150"
    s.sendall(b"API\0" + struct.pack(">I", len(payload)) + payload)
    size = struct.unpack(">I", _recv_exact(s, 4))[0]
    msg = _recv_exact(s, size).split(b"\0")
    assert msg[0] == b"4" and msg[3] == b"530" and b"176" in msg[4]
    assert _closed(s)


def test_32_clients_and_duplicate_client_id():
    with SimGateway(SimConfig(seed=2)) as gw:
        clients: list[IB] = []
        errors: list[str] = []

        def connect(cid: int) -> None:
            ib = IB()
            try:
                ib.connect(gw.host, gw.port, clientId=cid, timeout=15)
                clients.append(ib)
            except Exception as exc:  # collected and asserted below
                errors.append(f"{cid}: {exc!r}")

        threads = [threading.Thread(target=connect, args=(cid,)) for cid in range(1, 33)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors and len(clients) == 32
        assert len(gw.gateway.clients) == 32
        dup = IB()
        dup_errors = []
        dup.errorEvent += lambda *a: dup_errors.append(a[1])
        try:
            dup.connect(gw.host, gw.port, clientId=7, timeout=3)
        except Exception:
            pass
        assert not dup.isConnected()
        for ib in clients:
            ib.disconnect()


def test_message_flood_gets_error_100_then_disconnect():
    cfg = SimConfig(seed=2)
    cfg.limits.msgs_per_second = 20
    cfg.limits.abuse_seconds = 2
    with SimGateway(cfg) as gw:
        s = socket.create_connection((gw.host, gw.port), timeout=5)
        _handshake(s)
        s.sendall(_frame(71, 2, 1, ""))
        got = b""
        closed = False
        deadline = time.monotonic() + 8
        s.settimeout(0.05)
        while time.monotonic() < deadline:
            try:
                s.sendall(_frame(49, 1) * 10)
            except OSError:
                closed = True
                break
            try:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                got += chunk
            except TimeoutError:
                pass
            time.sleep(0.02)
        assert b"\x00100\x00Max rate of messages per second has been exceeded" in got
        assert closed, "sustained abuse disconnects"
        s.close()
        assert len(gw.gateway.sessions) == 0 or all(x.closed for x in gw.gateway.sessions)
