"""``ibxl hub`` over loopback TCP with CURVE (``IBXL_HUB_TRANSPORT=tcp``, the default on Windows),
run on Linux with real hub processes, real attached processes and a real gateway on a real socket:
it serves like the local-socket hub, listens on 127.0.0.1 only, lets in only the user's client key,
and survives ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import zmq
import zmq.auth
from test_hub import (
    PY,
    _alive,
    _hub_log,
    _hub_pid,
    _result,
    _script,
    _sessions,
    _spawn,
    _status,
    attached_env,
    kill_hub_mid_stream,
    stop_hub,
)

from ibxl.errors import IBXLError
from ibxl.hub import codec
from ibxl.sim import SimConfig, SimGateway


@pytest.fixture
def gw():
    """A gateway of the test's own: the hub is its only API client."""
    with SimGateway(SimConfig(seed=11)) as g:
        yield g


@pytest.fixture
def tcp_env(tmp_path, gw):
    """Environment of processes attached with default settings to a tcp hub in a private directory."""
    env = attached_env(tmp_path, gw, IBXL_HUB_TRANSPORT="tcp")
    yield env
    stop_hub(env)


def _info(env: dict) -> dict:
    return json.loads((Path(env["IBXL_HUB_DIR"]) / "hub.json").read_text())


#: an attached process that holds a line, counts the updates reaching its cache, and makes a call
#: whenever the test asks (one line on stdin per round)
WATCHER = """
    client = ibxl.connect()
    h = ibxl.subscribe("AAPL")
    while not h.snapshot().has_data:
        time.sleep(0.05)
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        if line.strip() == "end":
            break
        v0 = h.version
        bars = ibxl.history(sys.argv[1], duration="5 D")
        q = ibxl.quotes([sys.argv[1]])
        time.sleep(1.0)
        print(json.dumps({"updates": h.version - v0, "bars": len(bars), "bid": float(q["bid"].iloc[0]),
                          "stale": h.snapshot().stale, "hub": client.connected}), flush=True)
"""


def _watchers(env: dict, symbols: tuple[str, ...]) -> list[subprocess.Popen]:
    procs = []
    for sym in symbols:
        p = subprocess.Popen([PY, "-c", _script(WATCHER), sym], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert line, p.communicate(timeout=30)[1][-3000:]
        assert json.loads(line)["ready"]
        procs.append(p)
    return procs


def _round(procs: list[subprocess.Popen]) -> list[dict]:
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    out = []
    for p in procs:
        line = p.stdout.readline()
        assert line, p.communicate(timeout=30)[1][-3000:]
        out.append(json.loads(line))
    return out


def _end(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.stdin.write("end\n")
            p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err[-3000:]


def _signed(key: bytes, op: str, body: object) -> list[bytes]:
    data, buffers = codec.dumps(body)
    header = json.dumps({"op": op, "id": 1, "proc": f"ctl-{os.urandom(4).hex()}", "pid": os.getpid()}).encode()
    frames = [header, data, *buffers]
    return [codec.sign(key, frames), *frames]


def _curve_socket(ctx: zmq.Context, kind: int, endpoint: str, server_key: bytes | None,
                  client: tuple[bytes, bytes] | None) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if server_key is not None and client is not None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, client[0])
        sock.setsockopt(zmq.CURVE_SECRETKEY, client[1])
    if kind == zmq.SUB:
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return sock


def test_processes_attached_over_tcp_share_one_connection_and_the_keys_are_private(tcp_env, gw):
    procs = _watchers(tcp_env, ("MSFT", "IBM", "NVDA"))
    try:
        results = _round(procs)
        st = _status(tcp_env)
    finally:
        _end(procs)
    for r in results:
        assert r["updates"] > 0 and r["bars"] >= 3 and r["bid"] > 0 and not r["stale"] and r["hub"], r
    assert st["transport"] == "tcp" and st["processes"] == 3 and "AAPL" in st["held"], st
    assert st["endpoints"].startswith("tcp+CURVE") and "tcp://127.0.0.1:" in st["endpoints"], st
    assert _sessions(gw) == 1, "one API connection for the three processes"
    info = _info(tcp_env)
    assert info["transport"] == "tcp"
    assert info["calls"].startswith("tcp://127.0.0.1:") and info["quotes"].startswith("tcp://127.0.0.1:")
    out = subprocess.run([PY, "-m", "ibxl", "hub", "status"], env=tcp_env, capture_output=True, text=True,
                         timeout=60)
    assert f"transport:       tcp+CURVE (calls {info['calls']}, quotes {info['quotes']})" in out.stdout, out.stdout
    curve = Path(tcp_env["IBXL_HUB_DIR"]) / "curve"
    assert stat.S_IMODE(curve.stat().st_mode) == 0o700
    for name in ("server.key_secret", "server.key", "client.key_secret", "client.key", "clients/client.key"):
        assert stat.S_IMODE((curve / name).stat().st_mode) == 0o600, name
    assert zmq.auth.load_certificate(curve / "clients" / "client.key")[0] == \
        zmq.auth.load_certificate(curve / "client.key_secret")[0]


def test_the_hub_listens_on_loopback_only(tcp_env):
    _result(_spawn(tcp_env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    pid = _hub_pid(tcp_env)
    listening = [c for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    info = _info(tcp_env)
    ports = {int(info["calls"].rsplit(":", 1)[1]), int(info["quotes"].rsplit(":", 1)[1])}
    assert {c.laddr.port for c in listening} == ports, listening
    for c in listening:
        assert c.laddr.ip == "127.0.0.1", f"the hub listens on {c.laddr.ip}:{c.laddr.port}"


def test_a_client_without_the_users_key_gets_no_reply_and_no_quote(tcp_env):
    procs = _watchers(tcp_env, ("MSFT",))
    directory = Path(tcp_env["IBXL_HUB_DIR"])
    key = (directory / "hub.key").read_text().strip().encode()  # even a correctly signed request is kept out
    info = _info(tcp_env)
    server_key = zmq.auth.load_certificate(directory / "curve" / "server.key")[0]
    ctx = zmq.Context()
    try:
        intruders = [("a fresh CURVE keypair", server_key, zmq.curve_keypair()), ("no CURVE at all", None, None)]
        for what, skey, pair in intruders:
            calls = _curve_socket(ctx, zmq.DEALER, info["calls"], skey, pair)
            quotes = _curve_socket(ctx, zmq.SUB, info["quotes"], skey, pair)
            calls.send_multipart(_signed(key, "status", {}))
            assert not calls.poll(2000), f"a client with {what} got a reply"
            assert not quotes.poll(500), f"a client with {what} received the quote stream"
            calls.close(0)
            quotes.close(0)
        # the same request over the user's own key is answered (the intruders were kept out by CURVE)
        own = zmq.auth.load_certificate(directory / "curve" / "client.key_secret")
        mine = _curve_socket(ctx, zmq.DEALER, info["calls"], server_key, (own[0], own[1]))
        mine.send_multipart(_signed(key, "status", {}))
        assert mine.poll(5000), "the user's own key got no reply"
        reply = mine.recv_multipart()
        codec.verify(key, reply[0], reply[1:])
        assert json.loads(reply[1])["ok"]
        sub = _curve_socket(ctx, zmq.SUB, info["quotes"], server_key, (own[0], own[1]))
        assert sub.poll(5000), "the user's own key received no quote"
    finally:
        ctx.destroy(0)
    try:
        after = _round(procs)[0]
    finally:
        _end(procs)
    assert after["updates"] > 0 and after["bars"] >= 3 and not after["stale"], after
    st = _status(tcp_env)
    assert st["refused_connections"] >= 1, st
    assert "refused a connection with an unknown CURVE key" in _hub_log(tcp_env)


def test_a_bad_signature_over_tcp_is_refused_and_logged(tcp_env):
    _result(_spawn(tcp_env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    directory = Path(tcp_env["IBXL_HUB_DIR"])
    own = zmq.auth.load_certificate(directory / "curve" / "client.key_secret")
    server_key = zmq.auth.load_certificate(directory / "curve" / "server.key")[0]
    ctx = zmq.Context()
    try:
        sock = _curve_socket(ctx, zmq.DEALER, _info(tcp_env)["calls"], server_key, (own[0], own[1]))
        frames = _signed(b"0" * 64, "call", {"name": "ibxl.account:positions", "args": [], "kwargs": {}})
        sock.send_multipart(frames)
        assert not sock.poll(1500), "a message with a bad signature was answered"
    finally:
        ctx.destroy(0)
    st = _status(tcp_env)
    assert st["refused"] >= 1 and st["calls"] == 0, st
    assert "refused a message with a bad signature" in _hub_log(tcp_env)


def test_kill_9_of_the_tcp_hub_restarts_it_and_quotes_come_back(tcp_env, gw):
    _, old_info = kill_hub_mid_stream(tcp_env)
    new_info = _info(tcp_env)
    assert new_info["transport"] == "tcp" and new_info["instance"] != old_info["instance"]
    refs = gw.call(lambda g: [o.order_ref for o in g.broker.orders.values()])
    assert refs.count("armed-1") == 1, refs
    assert _sessions(gw) == 1


def test_a_second_hub_refuses_to_start_while_one_holds_the_lock(tcp_env):
    first = _result(_spawn(tcp_env, 'ibxl.connect(); print(json.dumps({"pid": ibxl.hub.status()["hub_pid"]}))'))
    second = subprocess.run([PY, "-m", "ibxl", "hub", "serve"], env=tcp_env, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 1 and "another hub already runs" in second.stdout + second.stderr
    again = _status(tcp_env)
    assert again["hub_pid"] == first["pid"] and again["connected"]
    assert _info(tcp_env)["pid"] == first["pid"], "the refused hub touched the running one's record"


def test_a_process_set_to_the_other_transport_is_told_how_to_reach_the_running_hub(tcp_env):
    _result(_spawn(tcp_env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    ipc = _spawn({**tcp_env, "IBXL_HUB_TRANSPORT": "ipc"}, """
    try:
        ibxl.connect()
        print(json.dumps({"error": None}))
    except ibxl.IBXLError as exc:
        print(json.dumps({"error": str(exc), "hint": exc.hint}))
    """)
    r = _result(ipc)
    assert r["error"] and "uses the tcp transport" in r["error"], r
    assert "IBXL_HUB_TRANSPORT=tcp" in r["hint"], r


def test_an_unknown_transport_is_a_clear_error(monkeypatch, tmp_path):
    from ibxl.hub.transport import open_transport, transport_kind

    monkeypatch.setenv("IBXL_HUB_TRANSPORT", "udp")
    with pytest.raises(IBXLError, match="IBXL_HUB_TRANSPORT='udp' is not a hub transport") as info:
        transport_kind()
    assert "'ipc'" in info.value.hint and "'tcp'" in info.value.hint
    monkeypatch.delenv("IBXL_HUB_TRANSPORT")
    assert transport_kind() == ("tcp" if os.name == "nt" else "ipc")
    monkeypatch.setenv("IBXL_HUB_TRANSPORT", "TCP")
    assert transport_kind() == "tcp" and open_transport(tmp_path).kind == "tcp"


def test_the_cli_names_a_bad_transport_setting_and_status_and_stop_reach_the_hub_whatever_the_setting(tcp_env):
    out = subprocess.run([PY, "-m", "ibxl", "hub", "start"], env={**tcp_env, "IBXL_HUB_TRANSPORT": "pipe"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "IBXL_HUB_TRANSPORT='pipe' is not a hub transport" in out.stderr
    assert "set it to 'ipc'" in out.stderr
    assert _hub_pid(tcp_env) is None, "a hub started with a bad setting"
    _result(_spawn(tcp_env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    ipc_env = {**tcp_env, "IBXL_HUB_TRANSPORT": "ipc"}
    assert _status(ipc_env)["transport"] == "tcp"  # control commands use the transport the hub recorded
    pid = _hub_pid(tcp_env)
    out = subprocess.run([PY, "-m", "ibxl", "hub", "stop"], env=ipc_env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "hub stopped" and not _alive(pid), out.stdout + out.stderr


def test_start_waits_for_the_start_lock_and_then_starts_one_hub(tcp_env):
    from filelock import FileLock

    directory = Path(tcp_env["IBXL_HUB_DIR"])
    directory.mkdir(parents=True, mode=0o700)
    with FileLock(directory / "start.lock"):  # another process is starting a hub right now
        starter = subprocess.Popen([PY, "-m", "ibxl", "hub", "start"], env=tcp_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        assert starter.poll() is None and _hub_pid(tcp_env) is None, "start did not wait for the lock"
    out, err = starter.communicate(timeout=60)
    assert starter.returncode == 0 and "hub running" in out, err[-2000:]
    assert _status(tcp_env)["transport"] == "tcp"


def test_a_curve_key_readable_by_others_is_refused(tmp_path):
    from ibxl.hub.transport import curve_keypair

    public, secret = curve_keypair(tmp_path, "client")
    assert curve_keypair(tmp_path, "client") == (public, secret)  # made once, then read
    (tmp_path / "curve" / "client.key_secret").chmod(0o644)
    with pytest.raises(IBXLError, match="readable by others") as info:
        curve_keypair(tmp_path, "client")
    assert "chmod 600" in info.value.hint


def test_ending_a_process_asks_first_and_forces_only_when_it_does_not_stop():
    from ibxl.hub import system

    polite = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([PY, "-c", "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
                                 "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout.readline().strip() == "ready"
        assert system.alive(polite.pid) and system.alive(stubborn.pid)
        system.end(polite.pid, grace=5.0)
        assert polite.wait(5) == -signal.SIGTERM
        system.end(stubborn.pid, grace=0.5)
        assert stubborn.wait(5) == -signal.SIGKILL
        assert not system.alive(polite.pid) and not system.alive(stubborn.pid)
    finally:
        for p in (polite, stubborn):
            if p.poll() is None:
                p.kill()
                p.wait(5)
    assert set(system.stop_signals()) == {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    assert system.detached() == {"start_new_session": True}


def test_a_curve_key_file_cut_short_names_the_fix(tmp_path):
    from ibxl.hub.transport import curve_keypair

    curve_keypair(tmp_path, "server")
    secret = tmp_path / "curve" / "server.key_secret"
    secret.write_text(secret.read_text()[:40])
    with pytest.raises(IBXLError, match="holds no secret key") as info:
        curve_keypair(tmp_path, "server")
    assert "delete it" in info.value.hint


def test_processes_attach_to_the_hub_by_default_on_every_platform(monkeypatch):
    from ibxl import remote

    monkeypatch.delenv("IBXL_HUB", raising=False)
    assert remote.want_hub() is True
    monkeypatch.setenv("IBXL_HUB", "0")
    assert remote.want_hub() is False and remote.want_hub(True) is True
