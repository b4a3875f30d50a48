"""Ideas: market scanners, news headlines and articles, and IB's bulletins, as DataFrames."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pandas as pd
from ib_async import ScannerSubscription, TagValue

from .connection import client as _client
from .contracts import contract_text, resolve
from .remote import on_hub

NEWS_PROVIDERS = "BRFG+BRFUPDN+DJNL"


@on_hub
def scanner(code: str, filters: dict | None = None, rows: int = 25, instrument: str = "STK",
            location: str = "STK.US.MAJOR") -> pd.DataFrame:
    """Run a market scanner once: ranked rows (rank, contract, symbol, sec_type, exchange, currency).

    ``filters`` are IB's filter tags, e.g. ``{"priceAbove": 10, "volumeAbove": 1e6}``.
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
    out = [(d.rank + 1, contract_text(d.contractDetails.contract), d.contractDetails.contract.symbol,
            d.contractDetails.contract.secType, d.contractDetails.contract.exchange,
            d.contractDetails.contract.currency) for d in data]
    return pd.DataFrame(out, columns=["rank", "contract", "symbol", "sec_type", "exchange", "currency"])


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
        items = c.run(lambda con=con: c.ib.reqHistoricalNewsAsync(con.conId, NEWS_PROVIDERS, start.to_pydatetime(),
                                                                   end.to_pydatetime(), int(n)))
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
