"""Portfolio risk: vectorised NumPy against a naive per-cell loop, measured side by side.

- ``risk_engine.scenario_grid``: 41 moves × 21 vol shifts over 200 positions, half options
  (target < 50 ms), against a loop pricing each option in each cell with scalar Black–Scholes
- the risk table (greeks, dollar/beta-weighted delta, totals) over the same 200 positions
  (target < 20 ms) against a per-position loop
- end to end on the embedded gateway: ``ibxl.risk`` and ``ibxl.scenarios`` over 200 positions
  (half options) in one account with warm quotes

    .venv/bin/python benchmarks/bench_risk.py [--no-gateway]
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from _support import median_ms

from ibxl import greeks as bs
from ibxl import risk_engine as engine
from ibxl.portfolio_risk import risk_table

N_POSITIONS = 200



def synthetic_book(n: int = N_POSITIONS, seed: int = 1) -> pd.DataFrame:
    """n positions, every other one an option on one of 20 underlyings, with model greeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        und_price = float(rng.uniform(20, 600))
        opt = i % 2 == 1
        row = {"account": "DU1", "contract": f"X{i}", "symbol": f"U{i % 20}", "sec_type": "OPT" if opt else "STK",
               "underlying": f"U{i % 20}", "quantity": float(rng.integers(-20, 20) or 1),
               "multiplier": 100.0 if opt else 1.0, "is_option": opt, "und_price": und_price,
               "strike": round(und_price * float(rng.uniform(0.8, 1.2)), 0) if opt else float("nan"),
               "years": float(rng.uniform(0.02, 1.5)) if opt else 0.0,
               "right": ("C" if i % 4 == 1 else "P") if opt else "",
               "iv": float(rng.uniform(0.15, 0.6)) if opt else float("nan"), "beta": float(rng.uniform(0.5, 1.6)),
               "bench_price": 500.0}
        if opt:
            g = bs.greeks(und_price, row["strike"], row["years"], row["iv"], row["right"])
            row.update(price=g["price"], delta=g["delta"], gamma=g["gamma"], vega=g["vega"], theta=g["theta"])
        else:
            row.update(price=und_price, delta=float("nan"), gamma=float("nan"), vega=float("nan"),
                       theta=float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the naive references
def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _bs_scalar(s: float, k: float, t: float, v: float, call: bool, r: float = bs.RATE) -> float:
    if t <= 1.0 / (365 * 24 * 60) or v <= 0:
        return max(s - k, 0.0) if call else max(k - s, 0.0)
    sq = v * math.sqrt(t)
    d1 = (math.log(s / k) + (r + 0.5 * v * v) * t) / sq
    d2 = d1 - sq
    if call:
        return s * _ncdf(d1) - k * math.exp(-r * t) * _ncdf(d2)
    return k * math.exp(-r * t) * _ncdf(-d2) - s * _ncdf(-d1)


def naive_grid(book: pd.DataFrame, moves: np.ndarray, shifts: np.ndarray, days: float, by_beta: bool) -> np.ndarray:
    """Every cell, every position, one scalar repricing at a time."""
    records = book.to_dict("records")
    grid = np.zeros((len(moves), len(shifts)))
    for i, m in enumerate(moves):
        for j, dv in enumerate(shifts):
            total = 0.0
            for p in records:
                q = p["quantity"] * p["multiplier"]
                move = m * (p["beta"] if by_beta else 1.0)
                if not p["is_option"]:
                    total += q * p["price"] * move
                    continue
                call = p["right"] == "C"
                base = _bs_scalar(p["und_price"], p["strike"], p["years"], p["iv"], call)
                new = _bs_scalar(p["und_price"] * (1 + move), p["strike"], max(p["years"] - days / 365, 0.0),
                                 max(p["iv"] + dv / 100, engine.MIN_VOL), call)
                total += q * (new - base)
            grid[i, j] = total
    return grid


def naive_risk(book: pd.DataFrame) -> pd.DataFrame:
    """Greeks and exposures one position at a time, then a total."""
    rows = []
    for p in book.to_dict("records"):
        q = p["quantity"] * p["multiplier"]
        if p["is_option"]:
            s, k, t, v = p["und_price"], p["strike"], p["years"], p["iv"]
            sq = v * math.sqrt(t)
            d1 = (math.log(s / k) + (bs.RATE + 0.5 * v * v) * t) / sq
            delta = _ncdf(d1) if p["right"] == "C" else _ncdf(d1) - 1
            pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
            gamma, vega = pdf / (s * sq), s * pdf * math.sqrt(t) / 100
            und = s
        else:
            delta, gamma, vega, und = 1.0, 0.0, 0.0, p["price"]
        rows.append({"contract": p["contract"], "market_value": q * p["price"], "delta": q * delta,
                     "dollar_delta": q * delta * und, "gamma": q * gamma, "vega": q * vega,
                     "beta_delta": q * delta * und * p["beta"] / p["bench_price"]})
    df = pd.DataFrame(rows)
    total = {"contract": "Total", **{c: df[c].sum() for c in df.columns if c != "contract"}}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def arithmetic() -> None:
    book = synthetic_book()
    moves, shifts = np.asarray(engine.DEFAULT_MOVES), np.asarray(engine.DEFAULT_VOL_SHIFTS)
    fast = engine.scenario_grid(book, moves, shifts, 0.0, True)
    slow = naive_grid(book, moves, shifts, 0.0, True)
    assert np.allclose(fast, slow, rtol=1e-7, atol=1e-4), float(np.max(np.abs(fast - slow)))
    t_fast = median_ms(lambda: engine.scenario_grid(book, moves, shifts, 0.0, True), 20)
    t_slow = median_ms(lambda: naive_grid(book, moves, shifts, 0.0, True), 3)
    print(f"scenario grid 41x21 over {len(book)} positions ({int(book['is_option'].sum())} options): "
          f"vectorised {t_fast:.1f} ms (target < 50 ms), naive per-cell loop {t_slow:.0f} ms, "
          f"{t_slow / t_fast:.0f}x faster")
    fast_r = risk_table(engine.fill_greeks(book.assign(delta=np.nan, gamma=np.nan, vega=np.nan, theta=np.nan)))
    slow_r = naive_risk(book)
    assert np.allclose(fast_r["dollar_delta"].to_numpy(float), slow_r["dollar_delta"].to_numpy(float))
    bare = book.assign(delta=np.nan, gamma=np.nan, vega=np.nan, theta=np.nan)
    t_fast = median_ms(lambda: risk_table(engine.fill_greeks(bare)), 30)
    t_slow = median_ms(lambda: naive_risk(book), 10)
    print(f"risk table over {len(book)} positions (Black-Scholes greeks for every option): vectorised "
          f"{t_fast:.2f} ms (target < 20 ms), naive per-position loop {t_slow:.2f} ms, {t_slow / t_fast:.1f}x faster")


# ------------------------------------------------------------------ end to end
def end_to_end() -> None:
    from ib_async import IB, Contract, MarketOrder, Option

    import ibxl
    from ibxl import bars, portfolio_risk
    from ibxl.live import registry
    from ibxl.sim import SimConfig, SimGateway
    from ibxl.sim.config import Limits

    tmp = tempfile.mkdtemp(prefix="ibxl-bench-risk-")
    os.environ.update(IBXL_CACHE_DIR=f"{tmp}/cache", IBXL_DATA_DIR=f"{tmp}/data", IBXL_CONFIG=f"{tmp}/config.toml")
    limits = Limits(market_data_lines=500, hist_requests_per_10min=10_000, msgs_per_second=500)
    # slow ticks: the timings measure ibxl, not the gateway streaming in the same process
    with SimGateway(SimConfig(seed=5, tick_interval=5.0, limits=limits, accounts=("DU7654321",))) as gw:
        ib = IB()
        ib.connect(gw.host, gw.port, clientId=90)
        linear = [i for i in gw.gateway.universe.all_listed() if i.secType in ("STK", "FUT", "CASH", "CRYPTO")]
        contracts = [Contract(conId=i.conId, exchange=i.exchange) for i in linear]
        contracts = ib.qualifyContracts(*contracts)
        options: list[Contract] = []
        for und in [c for c in contracts if c.secType == "STK"][:12]:
            chain = ib.reqSecDefOptParams(und.symbol, "", "STK", und.conId)[0]
            spot = ib.reqTickers(und)[0].marketPrice()
            expiry = sorted(chain.expirations)[2]
            strikes = sorted(chain.strikes, key=lambda k: abs(k - spot))[:5]
            for k in strikes:
                for right in "CP":
                    options.append(Option(und.symbol, expiry, k, right, "SMART", tradingClass=chain.tradingClass))
        options = ib.qualifyContracts(*options)[: N_POSITIONS - len(contracts)]
        for c in [*contracts, *options]:
            qty = 1 if c.secType in ("OPT", "FUT") else (1000 if c.secType == "CASH" else 10)
            if c.secType == "CRYPTO":
                qty = 0.1
            ib.placeOrder(c, MarketOrder("BUY", qty))
        deadline = time.monotonic() + 60
        wanted = len(contracts) + len(options)
        while time.monotonic() < deadline and len([p for p in ib.positions() if p.position]) < wanted:
            ib.sleep(0.2)
        held = [p for p in ib.positions() if p.position]
        n_opt = sum(p.contract.secType == "OPT" for p in held)
        ibxl.connect(host=gw.host, port=gw.port, client_id=91, sim=False, hub=False)
        registry().max_lines = 500
        bars.scheduler().per_ten_minutes = 10_000  # the gateway above allows it: only the warm path is timed
        try:
            t0 = time.perf_counter()
            ibxl.risk()
            cold = time.perf_counter() - t0
            ibxl.scenarios()
            t_risk = median_ms(ibxl.risk, 20)
            t_scen = median_ms(ibxl.scenarios, 20)
            book = portfolio_risk._book(None, "SPY", "1 Y", 3.0)  # noqa: SLF001 - the book the calls used
            moves, shifts = np.asarray(engine.DEFAULT_MOVES), np.asarray(engine.DEFAULT_VOL_SHIFTS)
            t_fast_grid = median_ms(lambda: engine.scenario_grid(book, moves, shifts, 0.0, True), 20)
            t_naive_grid = median_ms(lambda: naive_grid(book, moves, shifts, 0.0, True), 3)
            t_fast_risk = median_ms(lambda: risk_table(book), 20)
            t_naive_risk = median_ms(lambda: naive_risk(book), 10)
            print(f"end to end on the gateway, {len(held)} positions ({n_opt} options), warm quotes: "
                  f"ibxl.risk() {t_risk:.1f} ms (target < 20 ms; its arithmetic {t_fast_risk:.2f} ms vs a naive "
                  f"per-position loop {t_naive_risk:.2f} ms); ibxl.scenarios() 41x21 {t_scen:.1f} ms (target < 50 ms; "
                  f"its grid {t_fast_grid:.1f} ms vs a naive per-cell loop {t_naive_grid:.0f} ms, "
                  f"{t_naive_grid / t_fast_grid:.0f}x). The first ibxl.risk() (contract details, quote lines, "
                  f"a year of daily bars per underlying) took {cold:.1f} s")
        finally:
            ibxl.disconnect()
            ib.disconnect()


if __name__ == "__main__":
    arithmetic()
    if "--no-gateway" not in sys.argv:
        end_to_end()
