"""Office.js: the metadata and calls xlwings Server makes for ibxl's functions, in-process and
through the server's own HTTP endpoints, with Excel's payloads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from ports import free_port, wait_listening
from xlwings.server import custom_functions_call, custom_functions_meta

import ibxl.excel.server.custom_functions as cf
from ibxl.excel.functions import FUNCTIONS
from ibxl.excel.serve import server_environment

#: every declared worksheet function, under its Office.js name (IB_QUOTE -> IB.QUOTE)
NAMES = {name.removeprefix("IB_") for name in FUNCTIONS}
STREAMS = {name.removeprefix("IB_") for name, f in FUNCTIONS.items() if f.streams}
#: the functions Excel users have had from the start, which must always be there
CORE = {"QUOTE", "QUOTES", "HISTORY", "CHAIN", "CONTRACT", "POSITIONS", "PORTFOLIO", "ACCOUNT", "PNL", "ORDERS",
        "EXECUTIONS", "SCAN", "NEWS", "STATUS", "ORDER", "CANCEL"}


def _body(func_name: str, *args: object, task_key: str | None = None) -> dict:
    # Excel sends every argument as a 2-D matrix
    data = {"client": "Office.js", "version": "0.37.8", "runtime": "1.4", "func_name": func_name,
            "args": [[[a]] if not isinstance(a, list) else a for a in args], "caller_address": "Sheet1!B2"}
    if task_key:
        data["task_key"] = task_key
    return data


def test_metadata_lists_every_function_with_parameters_and_streaming():
    meta = custom_functions_meta(cf)
    funcs = {f["name"]: f for f in meta["functions"]}
    assert set(funcs) == NAMES and CORE <= NAMES
    assert funcs["QUOTE"]["options"].get("stream") is True and funcs["QUOTES"]["options"].get("stream") is True
    assert not funcs["HISTORY"]["options"].get("stream")
    assert [p["name"] for p in funcs["ORDER"]["parameters"]] == ["key", "contract", "side", "qty", "type", "limit",
                                                                 "stop", "tif", "arm"]
    assert funcs["QUOTE"]["description"].startswith("Live quote")


def test_calls_return_values(ibxl_sim):
    out = asyncio.run(custom_functions_call(_body("HISTORY", "IBM", "1 M", None, None, None), cf))
    assert out[0] == ["date", "open", "high", "low", "close", "volume"] and len(out) > 20
    status = asyncio.run(custom_functions_call(_body("STATUS"), cf))
    assert ["connected", True] in status
    err = asyncio.run(custom_functions_call(_body("CONTRACT", "APPL", None), cf))
    assert "did you mean AAPL" in str(err)


def test_streaming_quote_pushes_at_most_four_a_second_and_releases(ibxl_sim):
    from ibxl.live import registry

    async def run() -> list:
        got: list = []
        task = await custom_functions_call(_body("QUOTE", "GOOGL", "Last", task_key="k1"), cf,
                                           streaming_callback=got.append)
        await asyncio.sleep(2.6)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.1)
        return got

    got = asyncio.run(run())
    values = [v for v in got if not (isinstance(v, list) and "waiting" in str(v))]
    assert values, got
    assert len(got) <= 2.6 * 4 + 1
    assert registry().line("GOOGL").refs == 0, "the cell's line was released"


def test_streaming_table_holds_its_lines_until_cancelled(ibxl_sim):
    from ibxl.live import registry

    async def run() -> tuple[list, list[int]]:
        got: list = []
        body = _body("QUOTES", [["NFLX"], ["KO"]], None, task_key="k2")
        task = await custom_functions_call(body, cf, streaming_callback=got.append)
        await asyncio.sleep(1.0)
        held = [registry().line(c).refs for c in ("NFLX", "KO")]
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.1)
        return got, held

    got, held = asyncio.run(run())
    assert held == [1, 1], "the cell holds one line per contract while it streams"
    assert [registry().line(c).refs for c in ("NFLX", "KO")] == [0, 0], "and gives them back when cancelled"
    table = next(r for r in got if len(r) == 3)
    assert table[0][:2] == ["contract", "Price"] and [r[0] for r in table[1:]] == ["NFLX", "KO"]

    async def bad_range() -> tuple[list, int]:
        shown: list = []
        task = await custom_functions_call(_body("QUOTES", [["KO"], ["APPL"]], None, task_key="k3"), cf,
                                           streaming_callback=shown.append)
        await asyncio.sleep(1.0)
        refs = registry().line("KO").refs
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return shown, refs

    shown, refs = asyncio.run(bad_range())
    assert refs == 0, "a bad contract in the range leaves no line held"
    assert "did you mean AAPL" in str(shown[0]), shown


def test_http_endpoints_of_the_real_server(gateway):
    env = {**os.environ, **server_environment(), "XLWINGS_LICENSE_KEY": "noncommercial",
           "IBXL_HOST": gateway.host, "IBXL_PORT": str(gateway.port), "IBXL_CLIENT_ID": "77"}
    script = r"""
import asyncio, json, sys, httpx
from xlwings_server.main import main_app

async def main():
    transport = httpx.ASGITransport(app=main_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        meta = (await c.get("/xlwings/custom-functions-meta.json")).json()
        code = (await c.get("/xlwings/custom-functions-code.js")).text
        body = json.loads(sys.argv[1])
        call = (await c.post("/xlwings/custom-functions-call", json=body)).json()
        print(json.dumps({"names": [f["name"] for f in meta["functions"]],
                          "streams": [f["name"] for f in meta["functions"] if f["options"].get("stream")],
                          "code_mentions_quote": "QUOTE" in code, "call": call}))

asyncio.run(main())
"""
    body = _body("CONTRACT", "AAPL", "conId")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(body)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out["names"]) == NAMES and set(out["streams"]) == STREAMS >= {"QUOTE", "QUOTES", "CHAIN"}
    assert out["code_mentions_quote"]
    assert out["call"]["result"] == [[265598]], out["call"]


# ------------------------------------------------------------ `ibxl excel serve`: a real server on a socket
@pytest.fixture(scope="module")
def excel_server(gateway, tmp_path_factory):
    """``ibxl excel serve`` in its own process, on 127.0.0.1 with a token, over the test gateway
    (with a bar store of its own: DuckDB lets one process open a file)."""
    port, token = free_port(), "test-token-" + os.urandom(6).hex()
    base = tmp_path_factory.mktemp("excel-serve")
    env = {**os.environ, "XLWINGS_LICENSE_KEY": "noncommercial", "IBXL_HOST": gateway.host,
           "IBXL_PORT": str(gateway.port), "IBXL_CLIENT_ID": "78", "IBXL_CACHE_DIR": str(base / "cache"),
           "IBXL_DATA_DIR": str(base / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "ibxl", "excel", "serve", "--port", str(port), "--token", token],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait_listening(port, 60, proc):
        proc.kill()
        pytest.fail("ibxl excel serve did not start: " + proc.stdout.read())
    yield f"http://127.0.0.1:{port}", token
    proc.terminate()
    proc.wait(20)


def test_served_calls_need_the_token(excel_server):
    import httpx

    url, token = excel_server
    body = _body("CONTRACT", "AAPL", "conId")
    refused = httpx.post(f"{url}/xlwings/custom-functions-call", json=body, timeout=30)
    assert refused.status_code == 401 and "token" in refused.text
    wrong = httpx.post(f"{url}/xlwings/custom-functions-call", json=body, headers={"Authorization": "nope"},
                       timeout=30)
    assert wrong.status_code == 401
    ok = httpx.post(f"{url}/xlwings/custom-functions-call", json=body, headers={"Authorization": token}, timeout=30)
    assert ok.status_code == 200 and ok.json()["result"] == [[265598]]
    meta = httpx.get(f"{url}/xlwings/custom-functions-meta.json", timeout=30).json()
    assert {f["name"] for f in meta["functions"]} == NAMES


def test_streaming_over_socketio_pushes_quotes_and_stops_on_cancel(excel_server):
    import socketio

    url, token = excel_server

    async def run() -> tuple[list, list, bool]:
        sio = socketio.AsyncClient()
        got: list = []
        after_cancel: list = []
        cancelled = asyncio.Event()

        @sio.on("xlwings:set-result-cell-b2")
        async def on_result(data):
            (after_cancel if cancelled.is_set() else got).append(data["result"])

        await sio.connect(url, auth={"token": token, "provider": "custom"}, transports=["websocket"])
        await sio.emit("xlwings:function-call", _body("QUOTE", "BTC.USD/CRYPTO", "Mid", task_key="cell-b2"))
        await asyncio.sleep(3.0)
        await sio.emit("xlwings:cancel-task", {"task_key": "cell-b2"})
        await asyncio.sleep(0.5)
        cancelled.set()
        await asyncio.sleep(1.5)
        await sio.disconnect()
        intruder = socketio.AsyncClient()
        stolen: list = []
        intruder.on("xlwings:set-result-cell-x", lambda data: stolen.append(data))
        try:
            await intruder.connect(url, auth={"token": "wrong", "provider": "custom"}, transports=["websocket"])
            await intruder.emit("xlwings:function-call", _body("QUOTE", "AAPL", "Bid", task_key="cell-x"))
            await asyncio.sleep(1.5)
        except socketio.exceptions.ConnectionError:
            pass
        finally:
            await intruder.disconnect()
        return got, after_cancel, stolen

    got, after_cancel, stolen = asyncio.run(run())
    prices = [r[0][0] for r in got if isinstance(r[0][0], (int, float))]
    assert prices and all(p > 1000 for p in prices), got
    assert len(got) <= 3.5 * 4 + 1, "at most four updates a second"
    assert after_cancel == [], "a cancelled cell gets nothing more"
    assert stolen == [], "a socket.io client without the token gets no values"


def test_serve_refuses_a_public_address_and_manifest_carries_the_token(tmp_path):
    env = {**os.environ, "XLWINGS_LICENSE_KEY": "noncommercial"}
    public = subprocess.run([sys.executable, "-m", "ibxl", "excel", "serve", "--host", "0.0.0.0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert public.returncode != 0 and "127.0.0.1" in public.stderr
    out = tmp_path / "ibxl.xml"
    made = subprocess.run([sys.executable, "-m", "ibxl", "excel", "manifest", "--url", "https://excel.example:8443",
                           "--token", "abc123", "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    xml = out.read_text()
    assert 'https://excel.example:8443/taskpane.html?ibxl_token=abc123"' in xml
    assert '<bt:String id="Functions.Namespace" DefaultValue="IB" />' in xml
    assert "custom-functions-meta.json" in xml
    unlicensed = {k: v for k, v in env.items() if k != "XLWINGS_LICENSE_KEY"}
    missing = subprocess.run([sys.executable, "-m", "ibxl", "excel", "serve"], env=unlicensed,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "noncommercial" in missing.stderr


def test_served_quote_without_a_field_is_a_price_for_every_kind_of_contract(excel_server):
    """=IB.QUOTE(contract) through the running server's endpoints: the option comes from =IB.CHAIN."""
    import socketio

    url, token = excel_server

    async def first_option() -> str:
        # IB.CHAIN streams: it fills in from the money outwards, then its "loading n/N" row goes
        sio = socketio.AsyncClient()
        tables: list[list] = []
        sio.on("xlwings:set-result-chain", lambda data: tables.append(data["result"]))
        await sio.connect(url, auth={"token": token, "provider": "custom"}, transports=["websocket"])
        await sio.emit("xlwings:function-call", _body("CHAIN", "AAPL", None, "C", 1, task_key="chain"))
        for _ in range(120):
            await asyncio.sleep(0.25)
            if tables and not str(tables[-1][-1][0]).startswith("loading"):
                break
        await sio.emit("xlwings:cancel-task", {"task_key": "chain"})
        await sio.disconnect()
        chain = tables[-1]
        assert chain[0][0] == "contract" and chain[1][0].startswith("AAPL ") and chain[1][0].endswith(" C"), chain
        return chain[1][0]

    option = asyncio.run(first_option())
    kinds = {"stock": "AAPL", "forex": "EUR.USD/CASH", "index": "SPX@CBOE//IND", "future": "ES 202612",
             "option": option, "crypto": "BTC.USD/CRYPTO"}

    async def run() -> dict[str, list]:
        sio = socketio.AsyncClient()
        got: dict[str, list] = {kind: [] for kind in kinds}
        for kind in kinds:
            sio.on(f"xlwings:set-result-price-{kind}", lambda data, kind=kind: got[kind].append(data["result"]))
        await sio.connect(url, auth={"token": token, "provider": "custom"}, transports=["websocket"])
        for kind, contract in kinds.items():  # the field argument left empty, as in =IB.QUOTE(A1)
            await sio.emit("xlwings:function-call", _body("QUOTE", contract, None, task_key=f"price-{kind}"))
        for _ in range(60):
            await asyncio.sleep(0.25)
            if all(any(isinstance(r[0][0], float) for r in got[k]) for k in kinds):
                break
        for kind in kinds:
            await sio.emit("xlwings:cancel-task", {"task_key": f"price-{kind}"})
        await asyncio.sleep(0.3)
        await sio.disconnect()
        return got

    got = asyncio.run(run())
    for kind, results in got.items():
        prices = [r[0][0] for r in results if isinstance(r[0][0], float)]
        assert prices and all(p > 0 for p in prices), (kind, kinds[kind], results)
