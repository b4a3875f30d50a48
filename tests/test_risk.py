"""Portfolio risk and several accounts on the embedded gateway over a real socket: greeks by
position and in total, scenario grids, betas, VaR, account routing and bad input."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from ib_async import IB, MarketOrder, Option, Stock
from ibapi_app import RecordingApp
from waiting import until as _until

import ibxl
from ibxl import greeks as bs
from ibxl.errors import IBXLError
from ibxl.sim import SimConfig, SimGateway

A, B, CASH, COMBO = "DU100001", "DU200002", "DU300003", "DU400004"


def _option(ib: IB, symbol: str, right: str, spot: float) -> Option:
    und = Stock(symbol, "SMART", "USD")
    ib.qualifyContracts(und)
    chain = ib.reqSecDefOptParams(symbol, "", "STK", und.conId)[0]
    today = pd.Timestamp.now().strftime("%Y%m%d")
    expiry = next(e for e in sorted(chain.expirations) if (pd.Timestamp(e) - pd.Timestamp(today)).days >= 20)
    strike = min(chain.strikes, key=lambda k: abs(k - spot))
    opt = Option(symbol, expiry, strike, right, "SMART", tradingClass=chain.tradingClass)
    ib.qualifyContracts(opt)
    return opt


def _buy(ib: IB, contract: object, qty: float, account: str) -> None:
    order = MarketOrder("BUY" if qty > 0 else "SELL", abs(qty))
    order.account = account
    ib.placeOrder(contract, order)


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[dict]:
    """A gateway serving three accounts, ibxl connected to it, and positions placed per account."""
    from ibxl import bars, trading

    base = tmp_path_factory.mktemp("risk")
    saved = {k: os.environ.get(k) for k in ("IBXL_CACHE_DIR", "IBXL_DATA_DIR", "IBXL_TRADING", "IBXL_CONFIG")}
    os.environ.update(IBXL_CACHE_DIR=str(base / "cache"), IBXL_DATA_DIR=str(base / "data"),
                      IBXL_CONFIG=str(base / "config.toml"))
    os.environ.pop("IBXL_TRADING", None)
    bars._store = None  # noqa: SLF001 - a fresh bar store in this module's directory
    trading._keys = None  # noqa: SLF001
    with SimGateway(SimConfig(seed=13, tick_interval=0.05, accounts=(A, B, CASH, COMBO))) as gw:
        trader = IB()
        trader.connect(gw.host, gw.port, clientId=61)
        spy = Stock("SPY", "SMART", "USD")
        trader.qualifyContracts(spy)
        spot = trader.reqTickers(spy)[0].marketPrice()
        call = _option(trader, "SPY", "C", spot)
        put = Option("SPY", call.lastTradeDateOrContractMonth, call.strike, "P", "SMART",
                     tradingClass=call.tradingClass)
        trader.qualifyContracts(put)
        _buy(trader, spy, 100, A)
        _buy(trader, call, 1, A)
        _buy(trader, call, -1, B)
        _buy(trader, put, -1, B)
        deadline = pd.Timestamp.now() + pd.Timedelta(seconds=10)
        while pd.Timestamp.now() < deadline and len([p for p in trader.positions() if p.position]) < 4:
            trader.sleep(0.1)
        ibxl.connect(host=gw.host, port=gw.port, client_id=62, sim=False)
        try:
            yield {"gw": gw, "trader": trader, "spy": spy, "call": call, "put": put}
        finally:
            ibxl.disconnect()
            trader.disconnect()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# ------------------------------------------------------------------ Black–Scholes by hand
@pytest.mark.parametrize(("spot", "strike", "years", "vol", "right", "expected"), [
    # N(d1), N(d2) worked out by hand from d1 = (ln(S/K) + (r + σ²/2)T) / σ√T with r = 4%
    (100.0, 100.0, 1.0, 0.20, "C", 9.925053),   # d1 = 0.30, d2 = 0.10
    (100.0, 100.0, 1.0, 0.20, "P", 6.003998),   # put-call parity: C - S + K e^{-rT}
    (100.0, 110.0, 0.5, 0.30, "C", 5.411455),   # d1 = -0.248950, d2 = -0.461082
])
def test_black_scholes_values_computed_by_hand(spot, strike, years, vol, right, expected):
    assert bs.price(spot, strike, years, vol, right) == pytest.approx(expected, abs=1e-5)


def test_hand_computed_call_greeks():
    g = bs.greeks(100.0, 100.0, 1.0, 0.20, "C")
    # d1 = 0.3: N(0.3) = 0.617911, φ(0.3) = 0.381388
    assert g["delta"] == pytest.approx(0.617911, abs=1e-5)
    assert g["gamma"] == pytest.approx(0.381388 / (100 * 0.2), abs=1e-6)
    assert g["vega"] == pytest.approx(100 * 0.381388 / 100, abs=1e-5)  # per vol point


# ------------------------------------------------------------------ risk
def _erf_call(s: float, k: float, t: float, v: float, r: float = 0.04) -> float:
    """Black–Scholes call from the closed form with math.erf (independent of ibxl.greeks)."""
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    d1 = (math.log(s / k) + (r + v * v / 2) * t) / (v * math.sqrt(t))
    return s * n(d1) - k * math.exp(-r * t) * n(d1 - v * math.sqrt(t))


def _one_call_book(delta: float = float("nan")) -> pd.DataFrame:
    return pd.DataFrame([{"account": "DU1", "contract": "X 20271231 100 C", "symbol": "X", "sec_type": "OPT",
                          "underlying": "X", "quantity": 2.0, "multiplier": 100.0, "price": 9.93,
                          "is_option": True, "und_price": 100.0, "strike": 100.0, "years": 1.0, "right": "C",
                          "iv": 0.20, "delta": delta, "gamma": np.nan, "vega": np.nan, "theta": np.nan,
                          "beta": 1.5, "bench_price": 500.0}])


def test_black_scholes_fallback_when_tws_sends_no_greeks():
    from ibxl import risk_engine
    from ibxl.portfolio_risk import risk_table

    book = risk_engine.fill_greeks(_one_call_book())
    assert book["greeks_source"].iloc[0] == "black-scholes"
    r = risk_table(book)
    assert r["unit_delta"].iloc[0] == pytest.approx(0.617911, abs=1e-5)  # N(0.3)
    assert r["delta"].iloc[0] == pytest.approx(200 * 0.617911, abs=1e-3)
    assert r["beta_delta"].iloc[0] == pytest.approx(200 * 0.617911 * 100 * 1.5 / 500, abs=1e-3)
    kept = risk_engine.fill_greeks(_one_call_book(delta=0.55))
    assert kept["greeks_source"].iloc[0] == "model" and kept["delta"].iloc[0] == 0.55


def test_scenario_grid_reprices_each_option_with_black_scholes():
    from ibxl import risk_engine

    book = risk_engine.fill_greeks(_one_call_book())
    grid = risk_engine.scenario_grid(book, np.array([0.0, 0.10]), np.array([0.0, 5.0]), 0.0, by_beta=False)
    base = _erf_call(100, 100, 1, 0.20)
    assert grid[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert grid[1, 1] == pytest.approx(200 * (_erf_call(110, 100, 1, 0.25) - base), rel=1e-9)
    by_beta = risk_engine.scenario_grid(book, np.array([0.10]), np.array([0.0]), 30.0, by_beta=True)
    assert by_beta[0, 0] == pytest.approx(200 * (_erf_call(115, 100, 1 - 30 / 365, 0.20) - base), rel=1e-9)


def test_total_delta_is_shares_plus_the_calls_delta(desk):
    r = ibxl.risk(A)
    rows = r[r["contract"] != "Total"].set_index("sec_type")
    call_delta = rows.loc["OPT", "unit_delta"]
    assert 0.2 < call_delta < 0.8
    total = r[r["contract"] == "Total"].iloc[0]
    assert total["delta"] == pytest.approx(100 + 100 * call_delta, abs=0.01)
    assert rows.loc["STK", "delta"] == 100
    assert rows.loc["OPT", "greeks_source"] == "model"
    assert total["market_value"] == pytest.approx(rows["market_value"].sum())
    assert rows.loc["OPT", "dollar_delta"] == pytest.approx(100 * call_delta * rows.loc["OPT", "und_price"])


def test_beta_of_spy_to_spy_is_one(desk):
    r = ibxl.risk(A).set_index("sec_type")
    assert r.loc["STK", "beta"] == pytest.approx(1.0, abs=1e-9)
    # beta-weighted delta of SPY shares in SPY shares is the share count
    assert r.loc["STK", "beta_delta"] == pytest.approx(100 * r.loc["STK", "price"] / r.loc["STK", "price"],
                                                       rel=0.01)


def test_short_straddle_has_negative_gamma_and_vega(desk):
    r = ibxl.risk(B)
    total = r[r["contract"] == "Total"].iloc[0]
    assert total["gamma"] < 0 and total["vega"] < 0 and total["theta"] > 0


def test_scenarios_centre_is_zero_and_one_percent_is_delta_plus_gamma(desk):
    r = ibxl.risk(A)
    total = r[r["contract"] == "Total"].iloc[0]
    legs = r[r["contract"] != "Total"]
    grid = ibxl.scenarios([-0.01, 0.0, 0.01], [0.0], account=A, by_beta=False)
    assert grid.loc[0.0, 0.0] == pytest.approx(0.0, abs=1e-6)
    dollar_gamma = float((legs["gamma"] * legs["und_price"] ** 2).sum())
    approx = total["dollar_delta"] * 0.01 + 0.5 * dollar_gamma * 0.01 ** 2
    # the option's own model: TWS's greeks and the repricing agree to a fraction of a dollar
    assert grid.loc[0.01, 0.0] == pytest.approx(approx, rel=0.01, abs=2.0)
    full = ibxl.scenarios(account=A)
    assert full.shape == (41, 21) and full.loc[0.0, 0.0] == pytest.approx(0.0, abs=1e-6)
    # long a call: more vol is worth more
    assert full.loc[0.0, 10.0] > 0 > full.loc[0.0, -10.0]
    aged = ibxl.scenarios([0.0], [0.0], days=7, account=A)
    assert aged.iloc[0, 0] < 0  # a week of time decay on a long call


# ------------------------------------------------------------------ accounts
def test_two_accounts_keep_separate_positions_and_all_sums_them(desk):
    pos = ibxl.positions("All")
    by_acct = pos.groupby("account")["position"].apply(lambda s: sorted(s.tolist()))
    assert by_acct[A] == [1.0, 100.0] and by_acct[B] == [-1.0, -1.0]
    assert CASH not in set(pos["account"])
    only_b = ibxl.positions(B)
    assert set(only_b["account"]) == {B}
    r = ibxl.risk("All")
    totals = r[r["contract"] == "Total"].set_index("account")
    assert set(totals.index) == {A, B, "Total"}
    assert totals.loc["Total", "delta"] == pytest.approx(totals.loc[A, "delta"] + totals.loc[B, "delta"])
    summary = ibxl.account_summary(["NetLiquidation", "Cushion"], account="All")
    assert list(summary.columns) == [A, B, CASH, COMBO, "Total", "currency"]
    nlv = summary.loc["NetLiquidation"]
    assert nlv["Total"] == pytest.approx(nlv[A] + nlv[B] + nlv[CASH] + nlv[COMBO])
    assert math.isnan(summary.loc["Cushion", "Total"])
    pf = ibxl.portfolio([A, B])
    assert set(pf["account"]) == {A, B, "Total"}
    parts = pf[pf["account"] != "Total"]
    assert pf.iloc[-1]["market_value"] == pytest.approx(parts["market_value"].sum())
    assert set(ibxl.portfolio(B)["account"]) == {B}
    p = ibxl.pnl("All")
    assert list(p.index) == [A, B, CASH, COMBO, "Total"]
    ex = ibxl.executions("All")
    assert set(ex["account"]) == {A, B}
    assert set(ibxl.executions(A)["account"]) == {A}
    assert "account" in ibxl.orders().columns


def test_orders_are_routed_by_account_and_unknown_accounts_refused(desk):
    trader, spy = desk["trader"], desk["spy"]
    before = {(p.account, p.contract.conId): p.position for p in trader.positions()}
    errors: list[tuple[int, str]] = []
    trader.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    _buy(trader, spy, 7, "DU999999")
    _buy(trader, spy, 3, CASH)
    trader.sleep(1.0)
    after = {(p.account, p.contract.conId): p.position for p in trader.positions()}
    assert any(code == 321 and "Invalid account code" in msg and "DU999999" in msg for code, msg in errors)
    assert after[(CASH, spy.conId)] == 3
    assert after[(A, spy.conId)] == before[(A, spy.conId)]
    _buy(trader, spy, -3, CASH)
    trader.sleep(1.0)


class MultiApp(RecordingApp):
    """The official client, recording the per-account (…Multi) callbacks too."""

    def positionMulti(self, reqId, account, modelCode, contract, pos, avgCost):
        self._rec("positionMulti", reqId, account, contract.symbol, contract.secType, float(pos))

    def positionMultiEnd(self, reqId):
        self._rec("positionMultiEnd", reqId)

    def accountUpdateMulti(self, reqId, account, modelCode, key, value, currency):
        self._rec("accountUpdateMulti", reqId, account, key, value)

    def accountUpdateMultiEnd(self, reqId):
        self._rec("accountUpdateMultiEnd", reqId)


def test_positions_multi_and_account_updates_multi_per_account(desk):
    gw = desk["gw"]
    app = MultiApp().start(gw.host, gw.port, 63)
    try:
        assert app.wait_for("managedAccounts")[0].split(",") == [A, B, CASH, COMBO]
        app.reqPositionsMulti(1, B, "")
        app.wait_for("positionMultiEnd", lambda a: a[0] == 1)
        rows = [r for r in app.events["positionMulti"] if r[0] == 1]
        assert {r[1] for r in rows} == {B} and sorted(r[4] for r in rows if r[4]) == [-1.0, -1.0]
        app.reqPositionsMulti(2, A, "")
        app.wait_for("positionMultiEnd", lambda a: a[0] == 2)
        assert {(r[2], r[4]) for r in app.events["positionMulti"] if r[0] == 2 and r[3] == "STK"} == {("SPY", 100.0)}
        app.reqAccountUpdatesMulti(3, CASH, "", False)
        app.wait_for("accountUpdateMultiEnd", lambda a: a[0] == 3)
        values = {r[2]: r[3] for r in app.events["accountUpdateMulti"] if r[0] == 3}
        assert {r[1] for r in app.events["accountUpdateMulti"] if r[0] == 3} == {CASH}
        assert float(values["GrossPositionValue"]) == 0 and float(values["NetLiquidation"]) > 0
        # both stream until cancelled: a fill in the account re-sends its positions, figures refresh
        app.reqPositionsMulti(4, CASH, "")
        app.wait_for("positionMultiEnd", lambda a: a[0] == 4)
        _buy(desk["trader"], desk["spy"], 2, CASH)
        app.wait_for("positionMulti", lambda a: a[0] == 4 and a[1] == CASH and a[2] == "SPY" and a[4] == 2.0)
        _buy(desk["trader"], desk["spy"], -2, CASH)
        app.wait_for("positionMulti", lambda a: a[0] == 4 and a[2] == "SPY" and a[4] == 0.0)
        app.wait_for("accountUpdateMultiEnd", lambda a: a[0] == 3
                     and sum(e[0] == 3 for e in app.events["accountUpdateMultiEnd"]) >= 2, timeout=8)
        app.cancelPositionsMulti(4)
        app.cancelAccountUpdatesMulti(3)
    finally:
        app.stop()


# ------------------------------------------------------------------ VaR
def test_var_of_a_cash_account_is_zero_and_positive_with_positions(desk):
    cash = ibxl.var(account=CASH)
    assert cash.iloc[0]["var"] == 0 and cash.iloc[0]["expected_shortfall"] == 0
    for method in ("historical", "parametric"):
        v = ibxl.var(0.99, 1, method, account=A).iloc[0]
        assert 0 < v["var"] <= v["expected_shortfall"]
    one = ibxl.var(0.95, 1, "parametric", account=A).iloc[0]["var"]
    ten = ibxl.var(0.95, 10, "parametric", account=A).iloc[0]["var"]
    assert ten == pytest.approx(one * np.sqrt(10), rel=1e-6)
    both = ibxl.var(account="All")
    assert list(both["account"]) == [A, B, CASH, COMBO, "Total"]


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("call", "match"), [
    (lambda: ibxl.risk("DU999999"), "unknown account 'DU999999'"),
    (lambda: ibxl.risk(CASH), "holds no positions"),
    (lambda: ibxl.scenarios([-0.2, 9.0], account=A), "moves value 9 is out of range"),
    (lambda: ibxl.scenarios([0.0], [-500], account=A), "vol_shifts value -500 is out of range"),
    (lambda: ibxl.scenarios(days=-1, account=A), "days must be 0 or more"),
    (lambda: ibxl.scenarios("up", account=A), "moves must be numbers"),
    (lambda: ibxl.var(1.5, account=A), "confidence 1.5 is out of range"),
    (lambda: ibxl.var(horizon_days=0, account=A), "horizon_days 0 is out of range"),
    (lambda: ibxl.var(method="monte carlo", account=A), "use 'historical' or 'parametric'"),
    (lambda: ibxl.risk(A, window="forever"), "window 'forever'"),
    (lambda: ibxl.portfolio([]), "account list is empty"),
    (lambda: ibxl.pnl(5), "account must be an account id, a list of ids or 'All', not int"),
    (lambda: ibxl.risk(A, benchmark="SPYY"), "unknown contract 'SPYY'"),
    (lambda: ibxl.var(horizon_days=2.5, account=A), "horizon_days 2.5 is out of range"),
])
def test_bad_input_names_the_problem(desk, call, match):
    with pytest.raises((IBXLError, ValueError, TypeError), match=match):
        call()


# ------------------------------------------------------------------ in cells
def test_risk_functions_in_cells(desk):
    from ibxl.excel import declare
    from ibxl.excel import functions as F
    from ibxl.excel import risk_functions as R

    assert {"IB_RISK", "IB_SCENARIOS", "IB_VAR"} <= set(declare.FUNCTIONS)
    rows = R.IB_RISK(A)
    assert rows[0][:3] == ["account", "contract", "symbol"] and rows[-1][1] == "Total"
    grid = R.IB_SCENARIOS([[-0.05], [0.0], [0.05]], [[-5, 0, 5]], 0, A)
    assert grid[0] == ["move \\ vol", -5.0, 0.0, 5.0]
    assert [r[0] for r in grid[1:]] == [-0.05, 0.0, 0.05]
    assert grid[2][2] == pytest.approx(0.0, abs=1e-6)
    assert len(R.IB_SCENARIOS(None, None, None, A)) == 42
    v = R.IB_VAR(0.99, 1, CASH)
    assert v[0][:2] == ["account", "method"] and v[1][-1] == 0
    assert {r[0] for r in F.IB_POSITIONS(B)[1:]} == {B}
    assert [r[0] for r in F.IB_PNL("All")[1:]] == [A, B, CASH, COMBO, "Total"]
    wide = F.IB_ACCOUNT("NetLiquidation", [[A], [B]])
    assert wide[0] == ["tag", A, B, "Total", "currency"]
    assert isinstance(F.IB_ACCOUNT("NetLiquidation", CASH), float)
    assert {r[0] for r in F.IB_PORTFOLIO(f"{A},{B}")[1:]} == {A, B, "Total"}
    assert all(r[-1] == A for r in F.IB_EXECUTIONS(A)[1:])
    assert F.IB_ORDERS(B)[0][-1] == "account"


@pytest.mark.parametrize(("call", "text"), [
    (lambda R, F: R.IB_RISK("DU999999"), "#N/A unknown account 'DU999999' - this login manages"),
    (lambda R, F: R.IB_RISK(CASH), "#N/A account DU300003 holds no positions"),
    (lambda R, F: R.IB_SCENARIOS([[0.1, 7]], None, 0, A), "#VALUE! moves value 7 is out of range"),
    (lambda R, F: R.IB_SCENARIOS([["up"]], None, 0, A), "#VALUE! moves must be numbers"),
    (lambda R, F: R.IB_SCENARIOS(None, None, "soon", A), "#VALUE! days must be a number"),
    (lambda R, F: R.IB_VAR(2, 1, A), "#VALUE! confidence 2 is out of range"),
    (lambda R, F: R.IB_VAR(0.99, 1, A, "guess"), "#VALUE! method 'guess'"),
    (lambda R, F: F.IB_POSITIONS("DU999999"), "#N/A unknown account 'DU999999'"),
])
def test_bad_input_in_cells_is_text_that_names_it(desk, call, text):
    from ibxl.excel import functions as F
    from ibxl.excel import risk_functions as R

    out = call(R, F)
    assert isinstance(out, str) and out.startswith(text), out


# ------------------------------------------------------------------ panels

def test_risk_panel_refreshes_on_its_own(desk):
    from ibxl.widgets import RiskPanel

    panel = RiskPanel(A, refresh_seconds=1)
    try:
        assert _until(lambda: "Beta-weighted delta" in panel.totals.value and "VaR 99% 1d" in panel.totals.value)
        assert panel.table.value.count("ibxl-risk-row") == 3  # two positions and the total
        assert _until(lambda: any("image/png" in o["data"] for o in panel.heatmap.outputs))
        first = panel.risk
        assert _until(lambda: panel.risk is not first), "the panel recomputes without being asked"
        assert panel.grid.shape == (41, 21)
    finally:
        panel.close()
    empty = RiskPanel(CASH, refresh_seconds=0)
    try:
        assert _until(lambda: "holds no positions" in empty.status.value)
    finally:
        empty.close()


def test_account_panel_picks_an_account(desk):
    from ibxl.widgets import AccountPanel

    panel = AccountPanel(refresh_seconds=0)
    try:
        assert _until(lambda: list(panel.account_picker.options) == [A, B, CASH, COMBO, "All"])
        assert _until(lambda: "NetLiquidation" in panel.figures)
        panel.account_picker.value = CASH
        assert _until(lambda: panel.portfolio.empty and "no positions" in panel.positions.value)
        cash_nlv = panel.figures["NetLiquidation"]
        panel.account_picker.value = "All"
        assert _until(lambda: set(panel.portfolio["account"]) == {A, B})
        assert _until(lambda: panel.figures["NetLiquidation"] > 2 * cash_nlv)
    finally:
        panel.close()


def test_readme_risk_example_runs_as_written(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## Portfolio risk and several accounts\n.*?```python\n(.*?)```", readme, re.S)
    assert block, "the README has a risk example"
    env = {**os.environ, "IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data"),
           "IBXL_CONFIG": str(tmp_path / "config.toml")}
    out = subprocess.run([sys.executable, "-c", block.group(1)], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "beta_delta" in out.stdout and "Total" in out.stdout and "expected_shortfall" in out.stdout


def test_a_combination_counts_leg_by_leg(desk):
    """A BAG order (long call, short put) fills as one position per leg at TWS, so risk sees legs."""
    from ib_async import ComboLeg, Contract

    trader, call, put = desk["trader"], desk["call"], desk["put"]
    combo = Contract(secType="BAG", symbol="SPY", currency="USD", exchange="SMART",
                     comboLegs=[ComboLeg(conId=call.conId, ratio=1, action="BUY", exchange="SMART"),
                                ComboLeg(conId=put.conId, ratio=1, action="SELL", exchange="SMART")])
    refused: list[str] = []
    trader.errorEvent += lambda req_id, code, msg, contract: refused.append(msg)
    _buy(trader, combo, 1, COMBO)
    deadline = pd.Timestamp.now() + pd.Timedelta(seconds=10)
    while pd.Timestamp.now() < deadline and not refused and \
            len([p for p in trader.positions(COMBO) if p.position]) < 2:
        trader.sleep(0.1)
    assert not refused, refused
    legs = {p.contract.conId: p.position for p in trader.positions(COMBO) if p.position}
    assert legs == {call.conId: 1.0, put.conId: -1.0}
    r = ibxl.risk(COMBO)
    rows = r[r["contract"] != "Total"]
    assert list(rows["sec_type"]) == ["OPT", "OPT"]
    total = r[r["contract"] == "Total"].iloc[0]
    # long call + short put at one strike: a synthetic long of 100 shares
    assert total["delta"] == pytest.approx(rows["delta"].sum()) and 80 < total["delta"] < 120


def test_gateway_accounts_option():
    import argparse

    from ibxl.sim.cli import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--accounts", "DU1, DU2", "--memory"]))
    assert cfg.accounts == ("DU1", "DU2")
    with pytest.raises(ValueError, match="name one account twice"):
        SimConfig(accounts=("DU1", "DU1"))
