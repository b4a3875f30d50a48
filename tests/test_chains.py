"""Option chains at the floor of IB's pacing, counted on the gateway's side of a real socket:
one snapshot per option, one contract-details request per expiry, nearest the money first,
definitions kept for the day, greeks computed where the gateway withholds its model."""

from __future__ import annotations

import time
from collections import Counter

import pytest

import ibxl
from ibxl.chains import CHAIN_COLUMNS, trading_day
from ibxl.sim.protocol.ids import Req


def _received(client) -> Counter:
    return Counter(client.sim_gateway.gateway.requests_received)


def _spot(symbol: str) -> float:
    return float(ibxl.quotes(symbol)["price"].iloc[0])


def test_chain_sends_one_message_per_option_and_nothing_twice(ibxl_sim):
    ibxl.expiries("SPY")  # option parameters and the underlying's line are the underlying's, not the chain's
    _spot("SPY")
    before = _received(ibxl_sim)
    ch = ibxl.option_chain("SPY", expiries=4, strikes=15)
    sent = _received(ibxl_sim) - before
    assert len(ch) == 248 and ch["expiry"].nunique() == 4
    assert sent[Req.MKT_DATA] == 248, "one snapshot request per option"
    assert sent[Req.CONTRACT_DETAILS] == 4, "one contract-details request per expiry"
    assert sent[Req.CANCEL_MKT_DATA] == 0, "snapshots need no cancel"
    assert sum(sent.values()) <= 248 + 4
    assert ch["contract"].is_unique and ch["delta"].notna().all() and (ch["greeks_source"] == "model").all()

    # the second chain of the day asks IB for no definitions at all
    before = _received(ibxl_sim)
    again = ibxl.option_chain("SPY", expiries=4, strikes=15)
    sent = _received(ibxl_sim) - before
    assert sent[Req.CONTRACT_DETAILS] == 0 and sent[Req.SEC_DEF_OPT_PARAMS] == 0
    assert sent[Req.MKT_DATA] == 248 and sorted(again["contract"]) == sorted(ch["contract"])


def test_definitions_are_kept_in_the_bar_store_for_the_day(ibxl_sim):
    from ibxl.bars import store

    exps = ibxl.expiries("QQQ")
    ibxl.option_chain("QQQ", expiries=2, strikes=2)
    before = _received(ibxl_sim)
    assert ibxl.expiries("QQQ") == exps and ibxl.strikes("QQQ")
    assert _received(ibxl_sim) - before == Counter(), "expiries and strikes come from the store"
    defs = store().option_defs("QQQ", trading_day(), exps[:2])
    assert set(defs["expiry"]) == set(exps[:2]) and (defs["con_id"] > 0).all()
    assert set(defs["trading_class"]) == {"QQQ"} and set(defs["right"]) == {"C", "P"}


def test_partial_frames_arrive_nearest_the_money_first(ibxl_sim):
    spot = _spot("IWM")
    frames: list = []
    ch = ibxl.option_chain("IWM", expiries=2, strikes=12,
                           progress=lambda f, n, total: frames.append((f.copy(), n, total)))
    partial = [(f, n, t) for f, n, t in frames if 0 < n < t]
    assert partial, "the chain fills in before it is complete"
    first, n, total = partial[0]
    assert total == len(ch) and n == len(first)
    nearest = (ch["strike"] - spot).abs().min()
    assert ((first["strike"] - spot).abs() <= nearest + 1e-9).any(), "the at-the-money strike comes first"
    assert (first["strike"] - spot).abs().max() < (ch["strike"] - spot).abs().max()
    assert (first["strike"] - spot).abs().mean() < (ch["strike"] - spot).abs().mean()
    counts = [n for _, n, _ in frames]
    assert counts == sorted(counts) and frames[-1][1] == frames[-1][2] == len(ch)


def test_chain_stream_and_jobs(ibxl_sim):
    frames = list(ibxl.chain_stream("AAPL", expiries=1, strikes=3))
    assert frames[-1].attrs["done"] and frames[-1].attrs["loaded"] == frames[-1].attrs["total"] == 14
    assert list(frames[-1].columns) == CHAIN_COLUMNS
    job = ibxl.start_chain("AAPL", 1, 2, "C")

    deadline = time.monotonic() + 30
    while True:
        frame, done, n, total = ibxl.chain_job(job)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert done and n == total == 5 and set(frame["right"]) == {"C"}
    with pytest.raises(ibxl.IBXLError, match="no chain job"):
        ibxl.chain_job(job)  # a finished job is forgotten once read


def test_open_interest_costs_a_line_once_a_day(ibxl_sim):
    ch = ibxl.option_chain("MSFT", expiries=1, strikes=3, open_interest=True)
    assert (ch["open_interest"] > 0).all()
    time.sleep(1.1)  # the last cancels of the open-interest lines may still sit in the one-second pacer
    before = _received(ibxl_sim)
    again = ibxl.option_chain("MSFT", expiries=1, strikes=3)
    sent = _received(ibxl_sim) - before
    assert sent[Req.MKT_DATA] == len(ch) and sent[Req.CANCEL_MKT_DATA] == 0
    assert again.set_index("contract")["open_interest"].equals(ch.set_index("contract")["open_interest"])


def test_withheld_model_greeks_are_computed(ibxl_sim):
    config = ibxl_sim.sim_gateway.gateway.config
    model = ibxl.option_chain("AMD", expiries=2, strikes=4)
    config.model_greeks_delay = 3600.0
    try:
        computed = ibxl.option_chain("AMD", expiries=2, strikes=4)
    finally:
        config.model_greeks_delay = 0.0
    assert (model["greeks_source"] == "model").all()
    assert (computed["greeks_source"] == "computed").all(), "the gateway sent no model greeks"
    for col in ("iv", "delta", "gamma", "vega", "theta", "und_price"):
        assert computed[col].notna().all(), f"no row is blank in {col}"
    both = model.set_index("contract").join(computed.set_index("contract"), rsuffix="_bs")
    near = both[(both["delta"].abs() > 0.1) & (both["delta"].abs() < 0.9)]
    assert len(near) >= 4
    assert ((near["delta"] - near["delta_bs"]).abs() < 0.1).all(), "Black–Scholes agrees with the model"


def test_bad_input_names_the_problem(ibxl_sim):
    with pytest.raises(ValueError, match="right 'X'"):
        ibxl.option_chain("SPY", right="X")
    with pytest.raises(ValueError, match="count of 1 or more"):
        ibxl.option_chain("SPY", expiries=0)
    with pytest.raises(ValueError, match="strikes -2"):
        ibxl.option_chain("SPY", strikes=-2)
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        ibxl.option_chain("SPY", strikes=(1, 2, 3))
    with pytest.raises(ValueError, match="not listed"):
        ibxl.option_chain("SPY", expiries=["19990101"])
    with pytest.raises(ibxl.IBXLError, match="no chain job"):
        ibxl.chain_job("chain-unknown")


def test_worksheet_chain_shows_partial_data_until_complete(ibxl_sim):
    from ibxl.excel import functions as F

    seen: list = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = F.IB_CHAIN("NVDA", None, None, 20)
        assert isinstance(out, list), out
        seen.append(out)
        if not str(out[-1][0]).startswith("loading"):
            break
        time.sleep(0.1)
    first, last = seen[0], seen[-1]
    assert first[0][:4] == ["contract", "expiry", "strike", "right"]
    note = first[-1][0]
    assert note.startswith("loading ") and len(first[-1]) == len(first[0])
    loaded, total = (int(x) for x in note.split()[1].split("/"))
    assert 0 < loaded < total and len(first) == loaded + 2, "the cell shows what has arrived"
    assert len(last) == total + 1 and not str(last[-1][0]).startswith("loading"), "complete: no note"
    assert F.IB_CHAIN("NVDA", None, None, 20) == last, "a complete chain is reused, not fetched again"
    assert F.IB_CHAIN("NVDA", None, "Z", 2).startswith("#VALUE! right 'Z'")
    assert F.IB_CHAIN(None).startswith("#VALUE! underlying is empty")


def test_panel_fills_in_and_streams_only_the_strikes_nearest_the_money(ibxl_sim):
    from ibxl.live import registry
    from ibxl.widgets import OptionChainPanel

    panel = OptionChainPanel("GOOGL", strikes=20, live_lines=8, refresh=0)
    partial_seen = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            html = panel.table.value
            if 0 < panel.loaded < panel.total and "ibxl-chain-row" in html and "loading" in html:
                partial_seen = True
            if panel.total and panel.loaded == panel.total and len(panel.live_contracts()) == 8:
                break
            time.sleep(0.02)
        assert partial_seen, "the table showed rows before the chain was complete"
        live = panel.live_contracts()
        assert len(live) == 8, "lasting lines only within the panel's budget"
        spot = panel.chain["und_price"].median()
        strikes = sorted(panel.chain["strike"].unique(), key=lambda k: abs(k - spot))
        assert {float(t.split()[2]) for t in live} <= set(strikes[:5]), "lines go to the strikes nearest the money"
        assert all(registry().line(t).refs >= 1 for t in live)
        assert len(panel.rows()) == panel.chain["strike"].nunique() and len(panel.chain) == panel.total
        assert registry().lines_open() <= registry().max_lines
    finally:
        panel.close()
    assert all(registry().line(t).refs == 0 for t in live), "closing the panel released its lines"


def test_a_load_replaced_by_a_newer_one_opens_no_lines_and_sets_no_terms(ibxl_sim, monkeypatch):
    """Changing the underlying while a chain loads: the old load opens no lasting lines for its chain
    (the new load released the panel's lines) and its term structure does not replace the new one's."""
    import threading

    from ibxl.widgets import OptionChainPanel

    # the real chain stream, held at its start until the test has replaced the first load
    real_stream, real_chain = ibxl.chain_stream, ibxl.option_chain
    gate, streams, terms_for = threading.Event(), [], []

    def held_stream(underlying, *args, **kwargs):
        streams.append(underlying)
        assert gate.wait(30), "the test never opened the gate"
        yield from real_stream(underlying, *args, **kwargs)

    def recorded_chain(underlying, *args, **kwargs):
        terms_for.append(underlying)
        return real_chain(underlying, *args, **kwargs)

    monkeypatch.setattr(ibxl, "chain_stream", held_stream)
    monkeypatch.setattr(ibxl, "option_chain", recorded_chain)
    panel = OptionChainPanel("GOOGL", strikes=4, live_lines=6, refresh=0)
    try:
        deadline = time.monotonic() + 30
        while not streams and time.monotonic() < deadline:  # the GOOGL load waits at the gate
            time.sleep(0.01)
        assert streams == ["GOOGL"]
        panel.underlying.value = "MSFT"
        panel.expiry.options = []  # GOOGL's expiries: the MSFT load takes its nearest
        panel.load()
        gate.set()
        while time.monotonic() < deadline and (panel.terms is None or len(panel.live_contracts()) < 6):
            time.sleep(0.02)
        assert panel.terms is not None and len(panel.live_contracts()) == 6, panel.status.value
        assert all(t.startswith("MSFT ") for t in panel.live_contracts()), panel.live_contracts()
        assert terms_for == ["MSFT"], "the replaced load fetched no term structure"
        assert set(panel.chain["contract"].str.split().str[0]) == {"MSFT"}
    finally:
        panel.close()


def test_bad_settings_name_the_problem():
    from ib_async import Option

    from ibxl.contracts import remember
    from ibxl.sim import SimConfig

    with pytest.raises(ValueError, match="model_greeks_delay must be zero or more"):
        SimConfig(model_greeks_delay=-1)
    with pytest.raises(ValueError, match="has no conId"):
        remember(Option("SPY", "20261218", 600, "C", "SMART"))
