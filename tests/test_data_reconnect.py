"""ibxl survives the gateway going away: quotes go stale, then stream again after reconnect."""

from __future__ import annotations

import time

import ibxl


def test_disconnect_marks_stale_and_reconnect_restores(tmp_path, monkeypatch):
    from ibxl.sim import SimConfig, SimGateway

    monkeypatch.setenv("IBXL_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("IBXL_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "none.toml"))
    gw = SimGateway(SimConfig(seed=1)).start()
    port = gw.port
    client = ibxl.connect(host="127.0.0.1", port=port, client_id=5)
    try:
        handle = ibxl.subscribe("AAPL")
        deadline = time.monotonic() + 3
        while not handle.snapshot().has_data and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not handle.snapshot().stale
        gw.stop()
        deadline = time.monotonic() + 5
        while not handle.snapshot().stale and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.snapshot().stale, "quotes are marked stale, never silently frozen"
        assert ibxl.status()["connected"] is False
        gw2 = SimGateway(SimConfig(seed=1, port=port)).start()
        try:
            deadline = time.monotonic() + 20
            while (not client.connected or handle.snapshot().stale) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.connected and client.reconnects == 1
            v = handle.version
            time.sleep(1.0)
            assert handle.version > v and not handle.snapshot().stale, "the line streams again after reconnect"
        finally:
            ibxl.disconnect()
            gw2.stop()
    finally:
        ibxl.disconnect()


def test_gateway_restart_neither_loses_nor_duplicates_an_order(tmp_path, monkeypatch):
    from ibxl.sim import SimConfig, SimGateway

    monkeypatch.setenv("IBXL_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("IBXL_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("IBXL_TRADING", "paper")
    from ibxl import trading

    trading._keys = None  # noqa: SLF001 - the key record lives in this test's data directory
    state = tmp_path / "paper"
    gw = SimGateway(SimConfig(seed=2, state_dir=state)).start()
    port = gw.port
    client = ibxl.connect(host="127.0.0.1", port=port, client_id=6)
    try:
        bid = ibxl.quotes("CSCO").loc["CSCO", "bid"]
        first = ibxl.order("CSCO", "BUY", 4, "LMT", limit=round(bid * 0.97, 2), tif="GTC", key="restart-key")
        gw.stop()
        gw = SimGateway(SimConfig(seed=2, state_dir=state, port=port)).start()
        deadline = time.monotonic() + 20
        while not client.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        again = ibxl.order("CSCO", "BUY", 4, "LMT", limit=round(bid * 0.97, 2), tif="GTC", key="restart-key")
        assert again.order_id == first.order_id and again.status in ("Submitted", "PreSubmitted")
        open_orders = client.run(lambda: client.ib.reqAllOpenOrdersAsync())
        assert sum(1 for t in open_orders if t.order.orderRef == "restart-key") == 1
    finally:
        ibxl.disconnect()
        gw.stop()
