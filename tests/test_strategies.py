"""Combos in the data layer: combo text, named strategies, payoff against hand-computed cases,
combo quotes from the legs, and an iron condor end to end through ibxl.order and what_if."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ibxl
from ibxl.contracts import ComboSpec, parse_contract
from ibxl.errors import ContractSyntaxError, OrderRejected
from ibxl.strategies import KINDS, legs_of, payoff_table, strategy, summary_of

EXP = "20261218"


# ------------------------------------------------------------ text (no IB)
def test_combo_text_round_trips_and_rtd_cmb_syntax_parses():
    text = "+1 SPY 20261218 600 C, -1 SPY 20261218 610 C"
    spec = parse_contract("  +1  spy 20261218 600 c ,-1 SPY 20261218 610 CALL ")
    assert isinstance(spec, ComboSpec) and spec.text == text
    assert parse_contract(spec.text) == spec
    assert [x.action for x in spec.legs] == ["BUY", "SELL"]
    rtd = parse_contract("sym=SPY sec=BAG exch=SMART cur=USD cmb=756733#1#BUY#SMART;1234#2#SELL#SMART")
    assert rtd.text == "+1 conid=756733, -2 conid=1234"
    assert parse_contract("+100 AAPL, -1 AAPL 20261218 200 C").text == "+100 AAPL, -1 AAPL 20261218 200 C"


@pytest.mark.parametrize("text, why", [
    ("+1 SPY 20261218 600 C", "at least two legs"),
    ("+1 SPY 20261218 600 C, SPY 20261218 610 C", "does not start with a signed ratio"),
    ("+1 SPY 20261218 600 C, +2 SPY 20261218 600 C", "appears twice"),
    ("+0 SPY, +1 QQQ", "ratio 0"),
    ("+1 SPY, -1 BMO@SMART//////CAD", "different currencies"),
    ("+1 SPY 20261218 600 X, -1 SPY", "leg 1"),
    ("sym=SPY sec=STK cmb=1#1#BUY#SMART;2#1#SELL#SMART", "needs sec=BAG"),
    ("sym=SPY sec=BAG cmb=1#1#HOLD#SMART;2#1#SELL#SMART", "CONID#RATIO#BUY|SELL#EXCHANGE"),
])
def test_bad_combo_text_names_the_problem(text, why):
    with pytest.raises(ContractSyntaxError, match=why) as err:
        parse_contract(text)
    assert "+1 SPY 20261218 600 C, -1 SPY 20261218 610 C" in str(err.value)  # the fix: an example


def test_every_kind_builds_its_documented_legs():
    legs = {
        "vertical": "+1 SPY 20261218 600 C, -1 SPY 20261218 610 C",
        "straddle": "+1 SPY 20261218 600 C, +1 SPY 20261218 600 P",
        "strangle": "+1 SPY 20261218 590 P, +1 SPY 20261218 610 C",
        "butterfly": "+1 SPY 20261218 590 C, -2 SPY 20261218 600 C, +1 SPY 20261218 610 C",
        "iron_condor": "+1 SPY 20261218 580 P, -1 SPY 20261218 590 P, -1 SPY 20261218 610 C, "
                       "+1 SPY 20261218 620 C",
        "calendar": "-1 SPY 20261218 600 C, +1 SPY 20270115 600 C",
        "covered_call": "+100 SPY, -1 SPY 20261218 610 C",
        "collar": "+100 SPY, +1 SPY 20261218 590 P, -1 SPY 20261218 610 C",
    }
    args = {"vertical": ((600, 610), "C"), "straddle": (600, None), "strangle": ("590,610", None),
            "butterfly": ([590, 600, 610], "C"), "iron_condor": ((580, 590, 610, 620), None),
            "calendar": (600, "C"), "covered_call": (610, None), "collar": ((590, 610), None)}
    assert set(legs) == set(KINDS)
    for kind, want in legs.items():
        strikes, right = args[kind]
        expiry = (EXP, "20270115") if kind == "calendar" else EXP
        s = strategy(kind, "spy", expiry=expiry, strikes=strikes, right=right)
        assert str(s) == want and s.kind == kind and s.underlying == "SPY"


@pytest.mark.parametrize("args, why", [
    (("spread", "SPY", EXP, (600, 610), "C"), "kind 'spread' is unknown"),
    (("vertical", "", EXP, (600, 610), "C"), "underlying is empty"),
    (("vertical", "EUR.USD/CASH", EXP, (600, 610), "C"), "must be a stock"),
    (("vertical", "SPY", None, (600, 610), "C"), "needs an expiry"),
    (("vertical", "SPY", "2026-12-18", (600, 610), "C"), "not YYYYMMDD"),
    (("vertical", "SPY", EXP, (600,), "C"), "takes 2 strikes"),
    (("vertical", "SPY", EXP, (600, 600), "C"), "two different strikes"),
    (("vertical", "SPY", EXP, (600, "x"), "C"), "'x' is not a number"),
    (("vertical", "SPY", EXP, (600, -5), "C"), "positive"),
    (("vertical", "SPY", EXP, (600, 610), None), "needs right C or P"),
    (("butterfly", "SPY", EXP, (600, 590, 610), "C"), "rising strikes"),
    (("strangle", "SPY", EXP, (610, 590), None), "put strike lower"),
    (("calendar", "SPY", EXP, 600, "C"), "two expiries"),
    (("calendar", "SPY", ("20270115", EXP), 600, "C"), "must come before"),
    (("covered_call", "SPX@CBOE//IND", EXP, 6000, None), "is an index"),
])
def test_bad_strategy_arguments_name_the_problem(args, why):
    with pytest.raises(ContractSyntaxError, match=why):
        strategy(*args)


# ------------------------------------------------------------ payoff (hand-computed)
AFTER_EXPIRY = "2026-12-19 12:00"


def test_vertical_payoff_max_loss_is_the_debit_and_max_profit_width_less_debit():
    legs = legs_of(strategy("vertical", "SPY", EXP, (600, 610), "C"))
    debit = 4.00 * 100
    prices = np.unique(np.r_[0.0, np.linspace(550, 660, 111)])
    table = payoff_table(legs, prices, debit, [0.2, 0.2], now=AFTER_EXPIRY)
    assert table.loc[550.0, "expiry"] == pytest.approx(-400)
    assert table.loc[605.0, "expiry"] == pytest.approx(100)  # 5 in the money less the 4 debit
    assert table.loc[660.0, "expiry"] == pytest.approx(600)  # width 10 less the 4 debit
    s = summary_of(table, legs)
    assert s["max_loss"] == pytest.approx(-debit) and s["max_profit"] == pytest.approx(1000 - debit)
    assert s["breakevens"] == [pytest.approx(604.0)]
    assert np.allclose(table["today"], table["expiry"])  # after expiry, today is the expiry value


def test_iron_condor_straddle_and_covered_call_payoffs():
    condor = legs_of(strategy("iron_condor", "SPY", EXP, (580, 590, 610, 620)))
    credit = -3.0 * 100  # buying the condor's legs collects 3.00
    t = payoff_table(condor, [500, 585, 600, 615, 700], credit, [0.2] * 4, now=AFTER_EXPIRY)["expiry"]
    assert list(t) == pytest.approx([-700, -200, 300, -200, -700])
    s = summary_of(payoff_table(condor, np.r_[0, np.arange(560, 641)], credit, [0.2] * 4, now=AFTER_EXPIRY),
                   condor)
    assert s["max_profit"] == pytest.approx(300) and s["max_loss"] == pytest.approx(-700)
    assert s["breakevens"] == [pytest.approx(587.0), pytest.approx(613.0)]
    straddle = legs_of(strategy("straddle", "SPY", EXP, 600))
    st = payoff_table(straddle, np.r_[0, np.arange(500, 701)], 20 * 100, [0.2, 0.2], now=AFTER_EXPIRY)
    ss = summary_of(st, straddle)
    assert ss["max_loss"] == pytest.approx(-2000) and ss["max_profit"] == float("inf")
    assert ss["breakevens"] == [pytest.approx(580.0), pytest.approx(620.0)]
    cc = legs_of(strategy("covered_call", "SPY", EXP, 610))
    cost = 100 * 600 - 5 * 100  # shares at 600, the call sold for 5
    ct = payoff_table(cc, [0, 600, 610, 700], cost, [0.0, 0.2], now=AFTER_EXPIRY)["expiry"]
    assert list(ct) == pytest.approx([-59500, 500, 1500, 1500])


def test_today_values_follow_black_scholes_before_expiry():
    from ibxl import greeks

    legs = legs_of(strategy("vertical", "SPY", EXP, (600, 610), "C"))
    now = "2026-11-18 16:00"
    t = payoff_table(legs, [600.0], 0.0, [0.2, 0.25], now=now)
    years = greeks.years_to(EXP, now)
    want = (greeks.price(600.0, 600, years, 0.2, "C") - greeks.price(600.0, 610, years, 0.25, "C")) * 100
    assert t["today"].iloc[0] == pytest.approx(want)
    assert t["expiry"].iloc[0] == pytest.approx(0.0)  # at the money at expiry: both legs worthless


# ------------------------------------------------------------ live, against the embedded gateway
def _condor() -> str:
    exp = ibxl.expiries("SPY")[1]
    ks = ibxl.strikes("SPY")
    spot = float(ibxl.quotes("SPY")["mid"].iloc[0])
    i = min(range(len(ks)), key=lambda j: abs(ks[j] - spot))
    return str(strategy("iron_condor", "SPY", exp, (ks[i - 4], ks[i - 2], ks[i + 2], ks[i + 4])))


def test_combo_quote_equals_its_legs(ibxl_sim):
    combo = _condor()
    legs = [x.strip().split(" ", 1) for x in combo.split(",")]
    q = ibxl.quotes([*(t for _, t in legs), combo], wait=3.0)
    bid = ask = 0.0
    for sign, text in legs:
        r = int(sign)
        bid += r * (q.loc[text, "bid"] if r > 0 else q.loc[text, "ask"])
        ask += r * (q.loc[text, "ask"] if r > 0 else q.loc[text, "bid"])
    assert q.loc[combo, "bid"] == pytest.approx(bid, abs=0.0101)
    assert q.loc[combo, "ask"] == pytest.approx(ask, abs=0.0101)
    assert ibxl.quote(combo, "Mid") == pytest.approx((q.loc[combo, "bid"] + q.loc[combo, "ask"]) / 2, abs=0.02)


def test_rtd_cmb_combo_quotes_like_its_leg_list(ibxl_sim):
    combo = _condor()
    legs = [x.strip().split(" ", 1) for x in combo.split(",")]
    parts = []
    for sign, text in legs:
        con = ibxl.resolve(text)
        parts.append(f"{con.conId}#{abs(int(sign))}#{'BUY' if int(sign) > 0 else 'SELL'}#SMART")
    rtd = "sym=SPY sec=BAG exch=SMART cur=USD cmb=" + ";".join(parts)
    q = ibxl.quotes([combo, rtd], wait=3.0)
    assert q.index[1].startswith("+1 conid=")
    assert abs(q["mid"].iloc[0] - q["mid"].iloc[1]) <= 0.03
    bad = "sym=SPY sec=BAG cmb=1#1#BUY#SMART;" + parts[1]
    with pytest.raises(ibxl.ContractNotFound):
        ibxl.quotes(bad)


def test_payoff_and_summary_live(ibxl_sim):
    combo = _condor()
    table = ibxl.payoff(combo)
    assert list(table.columns) == ["expiry", "today"] and len(table) == 201
    s = ibxl.strategy_summary(combo)
    assert s["cost"] < 0 and s["bid"] < s["ask"]  # a credit
    ks = _strikes(combo)
    width = (ks[1] - ks[0]) * 100  # both wings are this wide
    assert s["max_loss"] == pytest.approx(-width - s["cost"], abs=1e-6)
    assert s["max_profit"] == pytest.approx(-s["cost"], abs=1e-6)
    assert len(s["breakevens"]) == 2 and abs(s["delta"]) < 50
    with pytest.raises(ValueError, match="non-negative"):
        ibxl.payoff(combo, prices=[-1.0, 5.0])


def _strikes(combo: str) -> list[float]:
    return [float(leg.split()[-2]) for leg in combo.split(",")]


def test_iron_condor_order_end_to_end_with_key_limits_and_what_if(ibxl_sim, monkeypatch):
    combo = _condor()
    q = ibxl.quotes(combo, wait=3.0)
    # a cent through the ask, so a tick's move still fills (and well inside the 5% band around the mid)
    ask = round(float(q["ask"].iloc[0]) + 0.01, 2)
    wi = ibxl.what_if(combo, "BUY", 1, "LMT", ask)  # allowed with trading off
    naked = ibxl.what_if(combo.split(",")[1].strip()[3:], "SELL", 1, "LMT", 1.0)
    assert 0 <= wi["init_margin_change"] < naked["init_margin_change"]
    from ibxl.errors import TradingDisabled

    with pytest.raises(TradingDisabled):
        ibxl.order(combo, "BUY", 1, "LMT", ask, key="condor-off")
    monkeypatch.setenv("IBXL_TRADING", "paper")
    with pytest.raises(OrderRejected, match="legs' premium"):
        ibxl.order(combo, "BUY", 1, "LMT", ask + 5.0, key="condor-far")
    with pytest.raises(OrderRejected, match="needs a limit price"):
        ibxl.order(combo, "BUY", 1, "LMT", None, key="condor-nolimit")
    first = ibxl.order(combo, "BUY", 1, "LMT", ask, key="condor-1")
    again = ibxl.order(combo, "BUY", 1, "LMT", ask, key="condor-1")
    assert again.order_id == first.order_id
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ibxl.orders().query("key == 'condor-1'")["status"].iloc[0] != "Filled":
        time.sleep(0.05)
    mine = ibxl.orders().query("key == 'condor-1'")
    assert len(mine) == 1 and mine["status"].iloc[0] == "Filled" and mine["contract"].iloc[0] == combo
    assert mine["avg_fill_price"].iloc[0] < 0  # a credit
    fills = ibxl.executions().query("key == 'condor-1'")
    assert sorted(fills["contract"]) == sorted(x.strip()[3:] for x in combo.split(","))
    assert (fills["commission"] > 0).all()
    pos = ibxl.positions().set_index("contract")["position"]
    for leg in combo.split(","):
        sign, text = leg.strip().split(" ", 1)
        assert np.sign(pos[text]) == np.sign(int(sign))


def test_vertical_bracket_through_ibxl_order(ibxl_sim, monkeypatch):
    monkeypatch.setenv("IBXL_TRADING", "paper")
    exp = ibxl.expiries("SPY")[2]
    spot = float(ibxl.quotes("SPY")["mid"].iloc[0])
    from ibxl.strategies import default_strikes

    combo = str(strategy("vertical", "SPY", exp, default_strikes("vertical", ibxl.strikes("SPY"), spot), "C"))
    q = ibxl.quotes(combo, wait=3.0)
    mid, ask = float(q["mid"].iloc[0]), float(q["ask"].iloc[0])
    r = ibxl.order(combo, "BUY", 1, "LMT", round(ask + 0.05, 2), key="vert-bracket",
                   bracket=(round(mid + 0.3, 2), round(mid - 0.3, 2)))
    deadline = time.monotonic() + 5
    legs = ibxl.orders().query("key.str.startswith('vert-bracket')", engine="python")
    while time.monotonic() < deadline and legs.query("key == 'vert-bracket'")["status"].iloc[0] != "Filled":
        time.sleep(0.05)
        legs = ibxl.orders().query("key.str.startswith('vert-bracket')", engine="python")
    assert r.order_id and len(legs) == 3
    status = legs.set_index("key")["status"]
    assert status["vert-bracket"] == "Filled"
    assert status["vert-bracket:tp"] in ("Submitted", "Filled") and status["vert-bracket:sl"] in (
        "PreSubmitted", "Submitted", "Filled", "Cancelled")
    assert (legs["contract"] == combo).all()
    ibxl.cancel("vert-bracket")
