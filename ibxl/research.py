"""Ideas: market scanners, news headlines and articles, and IB's bulletins, as DataFrames."""

from __future__ import annotations

import asyncio
import functools
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pandas as pd
from ib_async import IB, Contract, ScannerSubscription, TagValue, Ticker

from .connection import client as _client
from .contracts import contract_text, resolve
from .live import market_price
from .remote import on_hub
from .tick_values import tick_value

NEWS_PROVIDERS = "BRFG+BRFUPDN+DJNL"
NAN = float("nan")


@dataclass(frozen=True)
class ScanFigure:
    """The figure a scan code ranks by: its column and the generic ticks it needs (none: a snapshot)."""

    column: str
    generic: str = ""


#: scan code -> the figure it ranks by (change_pct and volume are columns of every scanner row)
SCAN_FIGURES: dict[str, ScanFigure] = {
    "TOP_PERC_GAIN": ScanFigure("change_pct"), "TOP_PERC_LOSE": ScanFigure("change_pct"),
    "HOT_BY_PRICE": ScanFigure("change_pct"), "MOST_ACTIVE": ScanFigure("volume"),
    "MOST_ACTIVE_USD": ScanFigure("dollar_volume"), "TOP_OPEN_PERC_GAIN": ScanFigure("open_change_pct"),
    "TOP_OPEN_PERC_LOSE": ScanFigure("open_change_pct"), "TOP_PRICE_RANGE": ScanFigure("range_pct"),
    "HIGH_OPT_IMP_VOLAT": ScanFigure("iv", "106"), "LOW_OPT_IMP_VOLAT": ScanFigure("iv", "106"),
    "OPT_VOLUME_MOST_ACTIVE": ScanFigure("option_volume", "100"), "HOT_BY_VOLUME": ScanFigure("volume_ratio", "165"),
    "TOP_TRADE_COUNT": ScanFigure("trade_count", "293"), "HIGH_VS_13W_HL": ScanFigure("pct_of_13w_range", "165"),
    "LOW_VS_13W_HL": ScanFigure("pct_of_13w_range", "165"),
}
SCAN_COLUMNS = ["rank", "contract", "symbol", "sec_type", "exchange", "currency", "last", "change", "change_pct",
                "volume"]
#: seconds to wait for the figures of one batch of rows
FIGURE_WAIT = 3.0


def _figure_row(t: Ticker, figure: ScanFigure | None) -> dict[str, float]:
    bid, ask, last, close = tick_value(t.bid), tick_value(t.ask), tick_value(t.last), tick_value(t.close)
    ref = market_price(bid, ask, last, NAN)
    row = {"last": last if last == last else ref, "change": ref - close if close else NAN,
           "change_pct": (ref - close) / close * 100 if close else NAN, "volume": tick_value(t.volume)}
    if figure is None or figure.column in row:
        return row
    opened, high, low = tick_value(t.open), tick_value(t.high), tick_value(t.low)
    low13, high13 = tick_value(t.low13week), tick_value(t.high13week)
    value = {
        "dollar_volume": lambda: row["volume"] * row["last"],
        "open_change_pct": lambda: (ref - opened) / opened * 100 if opened else NAN,
        "range_pct": lambda: (high - low) / ref * 100 if ref else NAN,
        "iv": lambda: tick_value(t.impliedVolatility),
        "option_volume": lambda: tick_value(t.callVolume) + tick_value(t.putVolume),
        "volume_ratio": lambda: row["volume"] / tick_value(t.avVolume) if tick_value(t.avVolume) else NAN,
        "trade_count": lambda: tick_value(t.tradeCount),
        "pct_of_13w_range": lambda: (ref - low13) / (high13 - low13) * 100 if high13 > low13 else NAN,
    }[figure.column]()
    return {**row, figure.column: value}


def _ready(t: Ticker, figure: ScanFigure | None) -> bool:
    row = _figure_row(t, figure)
    return all(v == v for v in row.values())


async def _batch_figures(ib: IB, contracts: list[Contract], figure: ScanFigure | None) -> list[Ticker]:
    """Figures of a batch of rows: snapshots, or, for figures that come from generic ticks (which
    TWS refuses for snapshots), lines held only until the figures arrive."""
    if figure is None or not figure.generic:
        try:
            return await asyncio.wait_for(ib.reqTickersAsync(*contracts), FIGURE_WAIT * 3)
        except TimeoutError:  # a snapshot that never ends: show what arrived
            return [ib.ticker(c) or Ticker(contract=c) for c in contracts]
    from .live import hold_generic

    return await hold_generic(ib, contracts, figure.generic, lambda t: _ready(t, figure), FIGURE_WAIT,
                              label="scanner", poll=0.05)


def _figures(c: Any, contracts: list[Contract], figure: ScanFigure | None) -> list[dict[str, float]]:
    """Figures of every row, in batches that fit the market-data lines left free."""
    from .live import free_lines

    budget = max(1, free_lines())
    rows: list[dict[str, float]] = []
    for i in range(0, len(contracts), budget):
        batch = contracts[i:i + budget]
        tickers = c.run(lambda batch=batch: _batch_figures(c.ib, batch, figure), timeout=FIGURE_WAIT * 4)
        rows += [_figure_row(t, figure) for t in tickers]
    return rows


@on_hub
def scanner(code: str, filters: dict | None = None, rows: int = 25, instrument: str = "STK",
            location: str = "STK.US.MAJOR") -> pd.DataFrame:
    """Run a market scanner once: ranked rows with figures.

    Columns: rank, contract, symbol, sec_type, exchange, currency, last, change, change_pct,
    volume, plus the figure the scan ranks by when it is not one of these (``dollar_volume``,
    ``open_change_pct``, ``range_pct``, ``iv``, ``option_volume``, ``volume_ratio``,
    ``trade_count``, ``pct_of_13w_range``); ``df.attrs["ranked_by"]`` names that column. The
    figures come from market-data snapshots in batches that fit the free market-data lines; the
    figures TWS sends only as generic ticks (iv, option_volume, volume_ratio, trade_count,
    pct_of_13w_range), which it refuses for snapshots, come from lines held only until they arrive
    (at most ``FIGURE_WAIT`` seconds). No line stays open. ``filters`` are IB's filter tags, e.g.
    ``{"priceAbove": 10, "volumeAbove": 1e6}``.
    """
    c = _client()
    sub = ScannerSubscription(instrument=instrument, locationCode=location, scanCode=code.upper(),
                              numberOfRows=max(1, min(int(rows), 50)))
    tags = [TagValue(k, str(v)) for k, v in (filters or {}).items()]
    errors: list[str] = []

    def on_error(req_id: int, err: int, msg: str, contract: object) -> None:
        if err == 162:
            errors.append(msg)

    c.call(lambda: c.ib.errorEvent.connect(on_error))
    try:
        data = c.run(lambda: c.ib.reqScannerDataAsync(sub, [], tags))
    finally:
        c.call(lambda: c.ib.errorEvent.disconnect(on_error))
    if errors and not data:
        from .errors import IBError

        raise IBError(errors[0], code=162, hint="check the scan code and filters with scanner_parameters()")
    figure = SCAN_FIGURES.get(code.upper())
    ranked = [d for d in data if d.contractDetails.contract is not None]
    contracts = [d.contractDetails.contract for d in ranked if d.contractDetails.contract is not None]
    figures = _figures(c, contracts, figure) if contracts else []
    columns = SCAN_COLUMNS + ([figure.column] if figure and figure.column not in SCAN_COLUMNS else [])
    out = [{"rank": d.rank + 1, "contract": contract_text(con), "symbol": con.symbol, "sec_type": con.secType,
            "exchange": con.exchange, "currency": con.currency, **fig}
           for d, con, fig in zip(ranked, contracts, figures, strict=True)]
    df = pd.DataFrame(out, columns=columns)
    df.attrs["ranked_by"] = figure.column if figure else ""
    return df


@on_hub
def scanner_parameters() -> dict[str, list[str]]:
    """What scanners TWS offers: scan_codes, instruments, locations and filters."""
    c = _client()
    root = ET.fromstring(c.run(lambda: c.ib.reqScannerParametersAsync()))
    return {"scan_codes": [e.text or "" for e in root.iter("scanCode")],
            "instruments": [e.text or "" for e in root.iter("type")],
            "locations": list(dict.fromkeys(e.text or "" for e in root.iter("locationCode"))),
            "filters": list(dict.fromkeys(e.text or "" for e in root.iter("code")))}


@on_hub
def news(contract: str | None = None, n: int = 10, days: int = 30) -> pd.DataFrame:
    """Recent headlines for a contract, or for every position when ``contract`` is None:
    columns time, provider, article_id, headline, contract."""
    c = _client()
    if contract is None:
        from .account import positions

        targets = list(dict.fromkeys(positions()["contract"])) or ["SPY"]
    else:
        targets = [contract]
    end = pd.Timestamp.now(tz="UTC")
    start = end - pd.Timedelta(days=days)
    rows = []
    for text in targets:
        con = resolve(text)
        request = functools.partial(c.ib.reqHistoricalNewsAsync, con.conId, NEWS_PROVIDERS, start.to_pydatetime(),
                                    end.to_pydatetime(), int(n))
        items: Any = c.run(request)  # ib_async's annotation says one headline; TWS sends a list
        for h in items or []:
            rows.append((pd.Timestamp(h.time).tz_convert("UTC") if pd.Timestamp(h.time).tzinfo
                         else pd.Timestamp(h.time, tz="UTC"), h.providerCode, h.articleId, h.headline,
                         contract_text(con)))
    df = pd.DataFrame(rows, columns=["time", "provider", "article_id", "headline", "contract"])
    return df.sort_values("time", ascending=False).head(n if contract else n * len(targets)).reset_index(drop=True)


@on_hub
def article(provider: str, article_id: str) -> str:
    """The text of a news article."""
    c = _client()
    art = c.run(lambda: c.ib.reqNewsArticleAsync(provider, article_id))
    return art.articleText


@on_hub
def bulletins(wait: float = 0.5) -> pd.DataFrame:
    """IB's news bulletins (system messages, exchange availability): id, type, message, exchange.

    The first call on a connection subscribes (and keeps the subscription across reconnects) and
    waits up to ``wait`` seconds for the bulletins TWS already holds.
    """
    c = _client()
    if not c.bulletins_subscribed:
        async def resubscribe() -> None:
            c.ib.reqNewsBulletins(True)

        c.call(lambda: c.ib.reqNewsBulletins(True))
        c.restore_hooks.append(resubscribe)
        c.bulletins_subscribed = True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not c.call(lambda: bool(c.ib.newsBulletins())):
            time.sleep(0.05)
    kinds = {1: "regular", 2: "exchange unavailable", 3: "exchange available"}
    rows = c.call(lambda: [(b.msgId, kinds.get(b.msgType, str(b.msgType)), b.message, b.origExchange)
                           for b in c.ib.newsBulletins()])
    return pd.DataFrame(rows, columns=["id", "type", "message", "exchange"])
