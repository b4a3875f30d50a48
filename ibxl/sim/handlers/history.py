"""Historical requests: bars (with keepUpToDate), head timestamps, historical ticks, histograms."""

from __future__ import annotations

from ..errors import SimError
from ..models.history import History, HistoryRequest, parse_end
from ..models.microstructure import trades
from ..models.pacing import HistoricalPacing
from ..protocol import history as B
from ..protocol import market_data as T
from ..protocol.contracts import read_contract
from ..protocol.fields import FieldReader
from ..protocol.ids import Req
from ..session import Session
from . import handles
from .market_data import resolve

KIND = "history"
MAX_TICKS = 1000


def _models(s: Session) -> tuple[History, HistoricalPacing]:
    return s.gateway.history, s.gateway.pacing


@handles(Req.HISTORICAL_DATA)
def req_historical_data(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    q = read_contract(r)
    r.bool("includeExpired")
    end_text = r.str("endDateTime")
    bar_size = r.str("barSizeSetting")
    duration = r.str("durationStr")
    rth = r.bool("useRTH")
    what = r.str("whatToShow")
    format_date = r.int("formatDate", default=1)
    if q.secType == "BAG":
        for _ in range(r.int("comboLegsCount", default=0)):
            r.int("legConId"), r.int("ratio"), r.str("action"), r.str("exchange")
    keep = r.bool("keepUpToDate") if r.remaining else False
    if r.remaining:
        r.str("chartOptions")
    if format_date not in (1, 2):
        raise SimError(321, f"formatDate {format_date} is invalid; use 1 (text) or 2 (epoch seconds)", req_id=req_id)
    history, pacing = _models(s)
    inst = resolve(s, q, req_id)
    now = s.gateway.clock.time()
    try:
        req = history.request(inst, end_text, duration, bar_size, what, rth, now, keep)
    except SimError as exc:
        exc.req_id = req_id
        raise
    key = (inst.conId, end_text, duration, req.bar_seconds, req.what, rth)
    try:
        pacing.check(now, key, (inst.conId, q.exchange, req.what), req.bar_seconds,
                     weight=2 if req.what == "BID_ASK" else 1)
    except SimError as exc:
        exc.req_id = req_id
        raise
    bars = history.bars(req)
    daily = req.bar_seconds >= 86400
    tz = inst.timeZoneId or "US/Eastern"
    start_ts = bars[0].time if bars else req.end
    s.send(*B.historical_data(req_id, B.bar_time(start_ts, False, 1, tz), B.bar_time(req.end, False, 1, tz), bars,
                              daily, format_date, tz))
    if keep:
        _keep_up_to_date(s, req_id, req, history, pacing, daily, format_date, tz)


def _keep_up_to_date(s: Session, req_id: int, req: HistoryRequest, history: History, pacing: HistoricalPacing,
                     daily: bool, format_date: int, tz: str) -> None:
    pacing.open_requests += 1
    last: dict[str, tuple | None] = {"bar": None}

    def update(now: float) -> None:
        b = history.current_bar(req, now)
        if b is None:
            return
        key = (b.time, b.close, b.volume)
        if key == last["bar"]:
            return
        last["bar"] = key
        s.send_update(*B.historical_data_update(req_id, b, daily, format_date, tz))

    handle = s.gateway.pulse.add(update)

    def stop() -> None:
        s.gateway.pulse.remove(handle)
        pacing.open_requests -= 1

    s.add_subscription(KIND, req_id, stop)


@handles(Req.CANCEL_HISTORICAL_DATA)
def cancel_historical_data(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription(KIND, r.int("reqId"))


@handles(Req.HEAD_TIMESTAMP)
def req_head_timestamp(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    q = read_contract(r)
    r.bool("includeExpired")
    rth = r.bool("useRTH")
    what = r.str("whatToShow").upper()
    format_date = r.int("formatDate", default=1)
    inst = resolve(s, q, req_id)
    history, _ = _models(s)
    if what not in ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"):
        raise SimError(321, f"whatToShow {what!r} has no head timestamp", req_id=req_id)
    if format_date not in (1, 2):
        raise SimError(321, f"formatDate {format_date} is invalid; use 1 (text) or 2 (epoch seconds)", req_id=req_id)
    s.send(*B.head_timestamp(req_id, history.head_timestamp(inst, what, rth), format_date))


@handles(Req.CANCEL_HEAD_TIMESTAMP)
def cancel_head_timestamp(s: Session, r: FieldReader) -> None:
    r.int("reqId")


@handles(Req.HISTORICAL_TICKS)
def req_historical_ticks(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    q = read_contract(r)
    r.bool("includeExpired")
    start_text = r.str("startDateTime")
    end_text = r.str("endDateTime")
    count = r.int("numberOfTicks", default=1000)
    what = r.str("whatToShow").upper()
    r.bool("useRth")
    r.bool("ignoreSize")
    if r.remaining:
        r.str("miscOptions")
    if bool(start_text.strip()) == bool(end_text.strip()):
        raise SimError(321, "give exactly one of startDateTime and endDateTime", req_id=req_id)
    if not 0 < count <= MAX_TICKS:
        raise SimError(321, f"numberOfTicks must be 1..{MAX_TICKS}, not {count}", req_id=req_id)
    if what not in ("TRADES", "BID_ASK", "MIDPOINT"):
        raise SimError(321, f"whatToShow {what!r}; use TRADES, BID_ASK or MIDPOINT", req_id=req_id)
    inst = resolve(s, q, req_id)
    market = s.gateway.market
    now = s.gateway.clock.time()
    try:
        if start_text.strip():
            t0 = int(parse_end(start_text, now))
            window = range(t0, min(int(now), t0 + count * 4) + 1)
        else:
            t1 = int(parse_end(end_text, now))
            window = range(max(0, t1 - count * 4), t1 + 1)
    except SimError as exc:
        exc.req_id = req_id
        raise
    if what == "TRADES":
        rows = trades(market, inst, window.start - 1, window.stop - 1)
        rows = rows[:count] if start_text.strip() else rows[-count:]
        exch = inst.primaryExchange or inst.exchange
        s.send(*T.historical_ticks_last(req_id, [(t.time, t.price, t.size, exch) for t in rows]))
    elif what == "BID_ASK":
        secs = list(window)[:count] if start_text.strip() else list(window)[-count:]
        quotes = [market.quote(inst, t) for t in secs]
        s.send(*T.historical_ticks_bid_ask(req_id, [(int(x.time), x.bid, x.ask, x.bid_size, x.ask_size)
                                                    for x in quotes]))
    else:
        secs = list(window)[:count] if start_text.strip() else list(window)[-count:]
        s.send(*T.historical_ticks_mid(req_id, [(t, round(market.price(inst, t), 6)) for t in secs]))


@handles(Req.HISTOGRAM_DATA)
def req_histogram_data(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    q = read_contract(r)
    r.bool("includeExpired")
    rth = r.bool("useRTH")
    period = r.str("timePeriod")
    inst = resolve(s, q, req_id)
    history, _ = _models(s)
    try:
        rows = history.histogram(inst, period, rth, s.gateway.clock.time())
    except SimError as exc:
        exc.req_id = req_id
        raise
    s.send(*B.histogram_data(req_id, rows))


@handles(Req.CANCEL_HISTOGRAM_DATA)
def cancel_histogram_data(s: Session, r: FieldReader) -> None:
    # histograms are answered at once: there is nothing left to stop
    r.int("reqId")
