"""``ibxl hub``: several real processes share one hub, which holds the one API connection to a real
gateway on a real socket; lines, pacing and orders are the desk's, faults are survived."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ibxl.sim import SimConfig, SimGateway

PY = sys.executable


@pytest.fixture
def gw():
    """A gateway of the test's own: the hub is its only API client."""
    with SimGateway(SimConfig(seed=7)) as g:
        yield g


def attached_env(tmp_path: Path, gw: SimGateway, **extra: str) -> dict:
    """Environment of processes attached with default settings to a hub in a private directory."""
    env = {**os.environ, "IBXL_HUB": "1", "IBXL_HUB_DIR": str(tmp_path / "hub"),
           "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           "IBXL_CONFIG": str(tmp_path / "config.toml"), "IBXL_HOST": gw.host, "IBXL_PORT": str(gw.port),
           "IBXL_HUB_IDLE": "60", "IBXL_TRADING": "paper", **extra}
    env.pop("IBXL_SIM", None)
    env.pop("IBXL_CLIENT_ID", None)
    return env


def stop_hub(env: dict) -> None:
    """``ibxl hub stop``, and check that the hub is gone."""
    subprocess.run([PY, "-m", "ibxl", "hub", "stop"], env=env, capture_output=True, timeout=60)
    pid = _hub_pid(env)
    assert pid is None or not _alive(pid), "the hub is still running after `ibxl hub stop`"


@pytest.fixture
def hub_env(tmp_path, gw):
    """Environment of processes attached with default settings to a hub in a private directory."""
    env = attached_env(tmp_path, gw)
    yield env
    stop_hub(env)


def _hub_pid(env: dict) -> int | None:
    try:
        return int(json.loads((Path(env["IBXL_HUB_DIR"]) / "hub.json").read_text())["pid"])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for every purpose here
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _script(body: str) -> str:
    return "import json, os, sys, time\nimport ibxl\n" + textwrap.dedent(body)


def _spawn(env: dict, body: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-c", _script(body), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen, timeout: float = 120) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _status(env: dict) -> dict:
    out = subprocess.run([PY, "-m", "ibxl", "hub", "status", "--json"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def _hub_log(env: dict) -> str:
    return (Path(env["IBXL_HUB_DIR"]) / "hub.log").read_text(errors="replace")


def _sessions(gw: SimGateway) -> int:
    return gw.call(lambda g: sum(1 for s in g.sessions if not s.closed))


DESK = """
    me = sys.argv[1]
    client = ibxl.connect()
    q = ibxl.quotes(["AAPL", sys.argv[2]])
    same = ibxl.history("AAPL", duration="20 D")
    own = ibxl.history(sys.argv[2], duration="20 D")
    seen = []  # a progress callback stays in this process; the chain job runs in the hub
    chain = ibxl.option_chain("SPY", strikes=2, right="C", progress=lambda frame, n, total: seen.append(n))
    sent = ibxl.order("AAPL", "BUY", 1, "LMT", limit=round(float(q.loc["AAPL", "bid"]) * 0.99, 2), key="desk-" + me)
    deadline = time.time() + 30
    while time.time() < deadline:
        keys = set(ibxl.orders()["key"])
        if {"desk-a", "desk-b", "desk-c"} <= keys:
            break
        time.sleep(0.2)
    handle = ibxl.subscribe("AAPL")
    while time.time() < deadline and not os.path.exists(sys.argv[3]):
        time.sleep(0.1)
    print(json.dumps({"bid": float(q.loc["AAPL", "bid"]), "same": len(same), "own": len(own), "chain": len(chain),
                      "progress": seen,
                      "order_id": sent.order_id, "status": sent.status, "keys": sorted(keys),
                      "hub": client.connected, "aapl": ibxl.quote("AAPL", "Bid")}))
"""


def test_three_processes_share_one_connection_one_line_and_see_each_others_orders(hub_env, gw, tmp_path):
    done = tmp_path / "done"
    procs = [_spawn(hub_env, DESK, me, other, str(done)) for me, other in (("a", "MSFT"), ("b", "IBM"), ("c", "NVDA"))]
    # while all three hold AAPL: one API connection at the gateway, one line for AAPL at the hub
    deadline = time.monotonic() + 90
    st: dict = {}
    while time.monotonic() < deadline:
        if _hub_pid(hub_env) is not None:
            try:
                st = _status(hub_env)
            except AssertionError:
                st = {}
            if st.get("processes") == 3 and st.get("lines_held", 0) >= 1 and "AAPL" in st.get("held", []):
                break
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs if p.poll()]
        time.sleep(0.5)
    assert st.get("processes") == 3, st
    assert _sessions(gw) == 1
    assert st["held"].count("AAPL") == 1 and st["lines"] <= 4 + 1, st  # AAPL + MSFT, IBM, NVDA (+ SPY's spot)
    done.touch()
    results = [_result(p) for p in procs]
    for r in results:
        assert r["bid"] > 0 and r["same"] > 10 and r["own"] > 10 and r["chain"] >= 2 and r["hub"]
        assert r["progress"] and r["progress"][-1] == r["chain"], r["progress"]
        assert r["order_id"] > 0 and r["keys"] == ["desk-a", "desk-b", "desk-c"]
    assert len({r["order_id"] for r in results}) == 3
    refs = gw.call(lambda g: sorted(o.order_ref for o in g.broker.orders.values()))
    assert refs == ["desk-a", "desk-b", "desk-c"]
    assert _sessions(gw) == 1


LINES = """
    part = int(sys.argv[1])
    names = [f"AAPL {exp} {k:g} {r}" for exp in ibxl.expiries("AAPL")[:2] for k in ibxl.strikes("AAPL") for r in "CP"]
    got, refused = [], []
    for n in names[part * 40:(part + 1) * 40]:
        try:
            got.append(ibxl.subscribe(n))
        except ibxl.IBXLError as exc:
            refused.append((exc.code, str(exc)))
    print(json.dumps({"got": len(got), "refused": refused[:1], "n_refused": len(refused)}), flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.1)
"""


def test_line_budget_is_shared_across_processes_and_never_exceeded(hub_env, gw, tmp_path):
    done = tmp_path / "done"
    outs = []
    for part in range(3):
        p = _spawn(hub_env, LINES, str(part), str(done))
        line = p.stdout.readline()
        assert line, p.communicate(timeout=30)[1][-3000:]
        outs.append((p, json.loads(line)))
    assert [o["got"] for _, o in outs] == [40, 40, 20], outs
    third = outs[2][1]
    assert third["n_refused"] == 20 and third["refused"][0][0] == 101
    assert "market-data lines are in use" in third["refused"][0][1]
    st = _status(hub_env)
    assert st["lines"] == 100 and st["lines_held"] == 100
    done.touch()
    for p, _ in outs:
        p.communicate(timeout=30)
    assert "Error 101" not in _hub_log(hub_env), "the gateway refused a line"


def test_the_line_budget_is_a_setting_of_the_login(hub_env, gw, tmp_path):
    env = {**hub_env, "IBXL_LINE_BUDGET": "30"}  # the hub started by this process takes it from its config
    done = tmp_path / "done"
    p = _spawn(env, LINES, "0", str(done))
    line = p.stdout.readline()
    assert line, p.communicate(timeout=30)[1][-3000:]
    out = json.loads(line)
    assert out["got"] == 30 and out["n_refused"] == 10, out
    assert out["refused"][0][0] == 101 and "all 30 market-data lines are in use" in out["refused"][0][1]
    st = _status(env)
    assert st["line_budget"] == 30 and st["lines"] == 30
    done.touch()
    p.communicate(timeout=30)


HISTORY = """
    ibxl.connect()
    for sym in ("AAPL", "MSFT", "SPY", "QQQ"):
        ibxl.history(sym, duration="1800 S", bar_size="5 secs")
        ibxl.history(sym, duration="3600 S", bar_size="30 secs", what="MIDPOINT")
    print(json.dumps({"ok": True}))
"""


def test_history_from_three_processes_at_once_causes_no_pacing_violation(hub_env, gw):
    procs = [_spawn(hub_env, HISTORY) for _ in range(3)]
    for p in procs:
        assert _result(p, timeout=240)["ok"]
    assert gw.call(lambda g: g.pacing.violations) == 0
    assert "Error 162" not in _hub_log(hub_env)


KILL = """
    from ibxl.excel.functions import IB_ORDER, IB_QUOTE
    ibxl.connect()
    h = [ibxl.subscribe(s) for s in ("AAPL", "MSFT")]
    bid = ibxl.quotes("AAPL")["bid"].iloc[0]
    limit = round(float(bid) * 0.98, 2)
    first = IB_ORDER("armed-1", "AAPL", "BUY", 1, "LMT", limit, None, "DAY", True)
    print(json.dumps({"ready": True, "first": str(first)}), flush=True)
    sys.stdin.readline()  # the hub is killed now
    t0 = time.monotonic()
    seen_stale, recovered = None, False
    while time.monotonic() - t0 < 10:
        cell = IB_QUOTE("AAPL", "Bid")
        if seen_stale is None and isinstance(cell, str) and "disconnected" in cell:
            seen_stale = time.monotonic() - t0
        if seen_stale is not None and isinstance(cell, float) and not h[1].snapshot().stale:
            recovered = True
            break
        IB_ORDER("armed-1", "AAPL", "BUY", 1, "LMT", limit, None, "DAY", True)  # the cell recalculates
        time.sleep(0.05)
    back = time.monotonic() - t0
    again = IB_ORDER("armed-1", "AAPL", "BUY", 1, "LMT", limit, None, "DAY", True)
    v0 = h[1].version
    time.sleep(1.0)
    print(json.dumps({"stale_after": seen_stale, "back_after": back, "recovered": recovered, "again": str(again),
                      "limit": limit,
                      "streaming": h[1].version > v0, "cell": IB_QUOTE("MSFT", "Bid")}))
"""


def kill_hub_mid_stream(env: dict) -> tuple[dict, dict]:
    """Run KILL in a process attached to the hub of ``env``, kill -9 the hub while quotes stream and
    an armed order cell recalculates, check the quotes went stale and came back within 5 s on a new
    hub; return the process's report and the old hub's ``hub.json``."""
    p = subprocess.Popen([PY, "-c", _script(KILL)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line, p.communicate(timeout=30)[1][-3000:]
    assert "Submitted" in json.loads(line)["first"] or "PreSubmitted" in json.loads(line)["first"], line
    old = _hub_pid(env)
    assert old is not None
    old_info = json.loads((Path(env["IBXL_HUB_DIR"]) / "hub.json").read_text())
    os.kill(old, signal.SIGKILL)
    p.stdin.write("go\n")
    p.stdin.flush()
    r = _result(p, timeout=60)
    print("kill -9 of the hub:", r)
    # how fast is printed here (run with -s); that it happens is asserted
    assert r["stale_after"] is not None and r["recovered"], r
    assert r["streaming"] and isinstance(r["cell"], float), r
    new = _hub_pid(env)
    assert new is not None and new != old and not _alive(old)
    return r, old_info


def test_kill_9_of_the_hub_marks_quotes_stale_recovers_within_5s_and_sends_one_order(hub_env, gw):
    r, _ = kill_hub_mid_stream(hub_env)
    # a function server that starts afresh recalculates the armed cell: the key finds the order
    fresh = _result(_spawn(hub_env, """
    from ibxl.excel.functions import IB_ORDER
    print(json.dumps({"cell": str(IB_ORDER("armed-1", "AAPL", "BUY", 1, "LMT", float(sys.argv[1]), None, "DAY",
                                           True))}))
    """, str(r["limit"])))
    assert "Submitted" in fresh["cell"], fresh
    refs = gw.call(lambda g: [o.order_ref for o in g.broker.orders.values()])
    assert refs.count("armed-1") == 1, refs
    assert _sessions(gw) == 1


def test_stop_never_signals_a_process_that_took_over_a_killed_hubs_pid(hub_env):
    subprocess.run([PY, "-m", "ibxl", "hub", "start"], env=hub_env, capture_output=True, timeout=120, check=True)
    info_path = Path(hub_env["IBXL_HUB_DIR"]) / "hub.json"
    pid = _hub_pid(hub_env)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the killed hub left its hub.json; its pid is now another process's (as after pid reuse)
    bystander = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    try:
        info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "pid": bystander.pid}))
        out = subprocess.run([PY, "-m", "ibxl", "hub", "stop"], env=hub_env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        time.sleep(0.5)
        assert bystander.poll() is None, "ibxl hub stop signalled a process that is not the hub"
        assert not info_path.exists(), "the stale hub.json is cleared"
    finally:
        bystander.kill()
        bystander.wait(10)


HOLDER = """
    ibxl.connect()
    h = [ibxl.subscribe(s) for s in ("AAPL", "MSFT", "IBM")]
    print(json.dumps({"ready": True}), flush=True)
    time.sleep(120)
"""


def test_a_process_that_dies_gives_its_lines_back(hub_env):
    p = _spawn(hub_env, HOLDER)
    assert json.loads(p.stdout.readline())["ready"]
    assert _status(hub_env)["lines_held"] == 3
    p.kill()
    p.wait(10)
    deadline = time.monotonic() + 15
    st = _status(hub_env)
    while time.monotonic() < deadline and (st["lines_held"] or st["processes"]):
        time.sleep(0.5)
        st = _status(hub_env)
    assert st["lines_held"] == 0 and st["processes"] == 0, st


def test_hub_exits_when_idle_and_restarts_on_the_next_call(hub_env):
    env = {**hub_env, "IBXL_HUB_IDLE": "1"}
    _result(_spawn(env, 'print(json.dumps({"bid": ibxl.quote("AAPL", "Bid")}))'))  # the first read starts the hub
    pid = _hub_pid(env)
    assert pid is not None
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the idle hub did not exit"
    r = _result(_spawn(env, 'print(json.dumps({"n": len(ibxl.history("AAPL", duration="5 D"))}))'))
    assert r["n"] >= 3
    assert _hub_pid(env) not in (None, pid)


def test_bad_signature_is_refused_and_logged_and_the_endpoint_is_private(hub_env):
    import zmq

    _result(_spawn(hub_env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    directory = Path(hub_env["IBXL_HUB_DIR"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "hub.key").stat().st_mode) == 0o600
    for name in ("calls", "quotes"):
        assert stat.S_IMODE((directory / name).stat().st_mode) & 0o077 == 0
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"ipc://{directory / 'calls'}")
    header = json.dumps({"op": "call", "id": 1, "proc": "intruder", "pid": 1}).encode()
    body = json.dumps({"name": "ibxl.account:positions", "args": [], "kwargs": {}}).encode()
    sock.send_multipart([b"0" * 64, header, body])
    assert not sock.poll(1500), "a message with a bad signature was answered"
    ctx.destroy(0)
    st = _status(hub_env)
    assert st["refused"] >= 1 and st["calls"] == 0
    assert "refused a message with a bad signature" in _hub_log(hub_env)
    # nothing of the hub listens on the network (it reaches the gateway as a client only)
    pid = _hub_pid(hub_env)
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            assert not (cols[3] == "0A" and cols[9] in inodes), f"the hub listens on {cols[1]}"


def test_a_client_id_in_use_is_reported_and_the_hub_takes_the_next(hub_env, gw):
    from ib_async import IB

    import ibxl

    other = IB()
    other.connect(gw.host, gw.port, clientId=17, timeout=10)
    try:
        with pytest.raises(ibxl.NotConnected) as info:
            ibxl.connect(gw.host, gw.port, client_id=17, hub=False)
        assert info.value.code == 326 and "client id 17" in str(info.value) and "hub" in info.value.hint
        ibxl.disconnect()
        st = _status_after_attach(hub_env)
        assert st["client_id"] == 18 and st["connected"]
        assert "client id 17 is in use" in _hub_log(hub_env)
    finally:
        other.disconnect()


def _status_after_attach(env: dict) -> dict:
    _result(_spawn(env, 'ibxl.connect(); print(json.dumps({"ok": True}))'))
    return _status(env)


NOTEBOOK_CELLS = [
    "import json, os, time\nimport ibxl\nclient = ibxl.connect()",
    "q = ibxl.quotes(['AAPL', 'MSFT'])\nbars = ibxl.history('AAPL', duration='20 D')\n"
    "chain = ibxl.option_chain('SPY', strikes=2, right='C')",
    "sent = ibxl.order('AAPL', 'BUY', 1, 'LMT', limit=round(float(q.loc['AAPL', 'bid']) * 0.99, 2), key='desk-nb')\n"
    "deadline = time.time() + 60\n"
    "while time.time() < deadline and not {'desk-nb', 'desk-xl', 'desk-py'} <= set(ibxl.orders()['key']):\n"
    "    time.sleep(0.2)\n"
    "json.dump({'bid': float(q.loc['AAPL', 'bid']), 'bars': len(bars), 'chain': len(chain),\n"
    "           'keys': sorted(set(ibxl.orders()['key']))}, open(os.environ['NB_OUT'], 'w'))",
]


def test_excel_server_a_notebook_kernel_and_a_script_share_one_connection(hub_env, gw, tmp_path):
    import httpx
    import nbformat
    from ports import free_port, wait_listening

    port, token = free_port(), "t-" + os.urandom(6).hex()
    env = {**hub_env, "XLWINGS_LICENSE_KEY": "noncommercial", "NB_OUT": str(tmp_path / "nb.json")}
    server = subprocess.Popen([PY, "-m", "ibxl", "excel", "serve", "--port", str(port), "--token", token], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    nbformat.write(nb, tmp_path / "desk.ipynb")
    kernel = None
    try:
        assert wait_listening(port, 60, server), "ibxl excel serve did not start"

        def cell(func: str, *args: object) -> object:
            body = {"client": "Office.js", "version": "0.37.8", "runtime": "1.4", "func_name": func,
                    "args": [[[a]] for a in args], "caller_address": "Sheet1!B2"}
            r = httpx.post(f"http://127.0.0.1:{port}/xlwings/custom-functions-call", json=body,
                           headers={"Authorization": token}, timeout=120)
            assert r.status_code == 200, r.text
            return r.json()["result"]

        def streamed_chain(port: int, token: str) -> list:
            # IB.CHAIN streams (it fills in from the money outwards): read it over socket.io until complete
            import asyncio

            import socketio

            async def run() -> list:
                tables: list[list] = []
                sio = socketio.AsyncClient()
                sio.on("xlwings:set-result-chain", lambda data: tables.append(data["result"]))
                await sio.connect(f"http://127.0.0.1:{port}", auth={"token": token, "provider": "custom"},
                                  transports=["websocket"])
                body = {"client": "Office.js", "version": "0.37.8", "runtime": "1.4", "func_name": "CHAIN",
                        "args": [[[a]] for a in ("SPY", "", "C", 2)], "caller_address": "Sheet1!C2",
                        "task_key": "chain"}
                await sio.emit("xlwings:function-call", body)
                for _ in range(240):
                    await asyncio.sleep(0.25)
                    if tables and not str(tables[-1][-1][0]).startswith("loading"):
                        break
                await sio.emit("xlwings:cancel-task", {"task_key": "chain"})
                await sio.disconnect()
                return tables[-1] if tables else []

            return asyncio.run(run())

        kernel = subprocess.Popen([PY, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                                   "--ExecutePreprocessor.timeout=180", str(tmp_path / "desk.ipynb"),
                                   "--output", str(tmp_path / "ran.ipynb")], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        script = _spawn(hub_env, """
            q = ibxl.quotes(["AAPL", "IBM"])
            bars = ibxl.history("IBM", duration="20 D")
            ibxl.order("AAPL", "BUY", 1, "LMT", limit=round(float(q.loc["AAPL", "bid"]) * 0.99, 2), key="desk-py")
            print(json.dumps({"bid": float(q.loc["AAPL", "bid"]), "bars": len(bars)}))
        """)
        # (QUOTE streams over socket.io, tested in test_excel_server; ORDER takes its own quote in the hub)
        hist = cell("HISTORY", "AAPL", "20 D", "1 day")
        chain = streamed_chain(port, token)
        limit = round(float(hist[-1][hist[0].index("close")]) * 0.98, 2)
        placed = cell("ORDER", "desk-xl", "AAPL", "BUY", 1, "LMT", limit, "", "DAY", True)[0][0]
        py = _result(script)
        out, err = kernel.communicate(timeout=240)
        assert kernel.returncode == 0, err[-3000:]
        nb_out = json.loads((tmp_path / "nb.json").read_text())
        orders = cell("ORDERS")
    finally:
        if kernel is not None and kernel.poll() is None:
            kernel.kill()
        server.terminate()
        server.wait(20)
    assert py["bid"] > 0 and nb_out["bid"] > 0
    assert len(hist) > 10 and py["bars"] > 10 and nb_out["bars"] > 10
    assert len(chain) >= 3 and nb_out["chain"] >= 2
    assert "Submitted" in str(placed), placed
    assert nb_out["keys"] == ["desk-nb", "desk-py", "desk-xl"]
    keys = [row[orders[0].index("key")] for row in orders[1:]]
    assert sorted(keys) == ["desk-nb", "desk-py", "desk-xl"], orders
    refs = gw.call(lambda g: sorted(o.order_ref for o in g.broker.orders.values()))
    assert refs == ["desk-nb", "desk-py", "desk-xl"]
    assert _sessions(gw) == 1, "one API connection for the three processes"
    attached = {line.split("process ")[1].split()[0] for line in _hub_log(hub_env).splitlines()
                if " attached" in line and "process " in line}
    assert len(attached) >= 3, attached


def test_a_second_hub_in_the_same_directory_refuses_to_start_and_leaves_the_first_alone(hub_env):
    first = _status_after_attach(hub_env)
    second = subprocess.run([PY, "-m", "ibxl", "hub", "serve"], env=hub_env, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 1 and "another hub already runs" in second.stdout + second.stderr
    again = _status(hub_env)
    assert again["hub_pid"] == first["hub_pid"] and again["connected"]


WATCH = """
    ibxl.connect()
    h = ibxl.subscribe("AAPL")
    while not h.snapshot().has_data:
        time.sleep(0.05)
    print(json.dumps({"ready": True}), flush=True)
    t0 = time.monotonic()
    stale_at = back_at = None
    while time.monotonic() - t0 < 40 and back_at is None:
        s = h.snapshot()
        if stale_at is None and s.stale:
            stale_at = time.monotonic() - t0
        elif stale_at is not None and not s.stale and s.has_data:
            back_at = time.monotonic() - t0
        time.sleep(0.05)
    print(json.dumps({"stale_at": stale_at, "back_at": back_at}))
"""


def test_tws_going_away_is_handled_in_the_hub_and_every_process_follows(tmp_path):
    from ports import free_port

    port = free_port()
    env = {**os.environ, "IBXL_HUB": "1", "IBXL_HUB_DIR": str(tmp_path / "hub"),
           "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           "IBXL_CONFIG": str(tmp_path / "config.toml"), "IBXL_HOST": "127.0.0.1", "IBXL_PORT": str(port),
           "IBXL_HUB_IDLE": "60"}
    env.pop("IBXL_SIM", None)
    first = SimGateway(SimConfig(seed=7, port=port)).start()
    second = None
    watchers = []
    try:
        watchers = [_spawn(env, WATCH) for _ in range(2)]
        for w in watchers:
            assert json.loads(w.stdout.readline())["ready"]
        first.stop()  # TWS's daily restart
        time.sleep(2.0)
        second = SimGateway(SimConfig(seed=7, port=port)).start()
        results = [_result(w, timeout=60) for w in watchers]
        for r in results:
            assert r["stale_at"] is not None and r["back_at"] is not None, r
        assert _sessions(second) == 1, "the hub reconnected once for every process"
    finally:
        for w in watchers:
            if w.poll() is None:
                w.kill()
        subprocess.run([PY, "-m", "ibxl", "hub", "stop"], env=env, capture_output=True, timeout=60)
        if second is not None:
            second.stop()
