"""Office.js: the metadata and calls xlwings Server makes for ibxl's functions, in-process and
through the server's own HTTP endpoints, with Excel's payloads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from xlwings.server import custom_functions_call, custom_functions_meta

import ibxl.excel.server.custom_functions as cf
from ibxl.excel.serve import server_environment

NAMES = {"QUOTE", "QUOTES", "HISTORY", "CHAIN", "CONTRACT", "POSITIONS", "PORTFOLIO", "ACCOUNT", "PNL", "ORDERS",
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
    assert set(funcs) == NAMES
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
    assert set(out["names"]) == NAMES and set(out["streams"]) == {"QUOTE", "QUOTES"}
    assert out["code_mentions_quote"]
    assert out["call"]["result"] == [[265598]], out["call"]
