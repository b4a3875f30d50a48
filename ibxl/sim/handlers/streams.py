"""Tick-by-tick data, market depth and real-time bars: streams read off the same price path
as the quotes, each riding the gateway's one pulse."""

from __future__ import annotations

from typing import Any

from ..errors import SimError
from ..models.instruments import Instrument
from ..models.microstructure import DEPTH_VENUES, bar, ladder, trades
from ..protocol import market_data as T
from ..protocol.contracts import read_contract
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles
from .market_data import resolve

TBT, DEPTH, RTB = "tick_by_tick", "depth", "realtime_bars"
MAX_HISTORY_TICKS = 1000


def _count_streams(s: Session, *kinds: str) -> int:
    return sum(len(sess.subscriptions(k)) for sess in s.gateway.sessions for k in kinds)


# ------------------------------------------------------------ tick-by-tick
@handles(Req.TICK_BY_TICK_DATA)
def req_tick_by_tick(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    q = read_contract(r)
    kind_text = r.str("tickType")
    count = r.int("numberOfTicks", default=0) if r.remaining else 0
    if r.remaining:
        r.bool("ignoreSize")
    kind = T.TICK_BY_TICK_TYPES.get(kind_text)
    if kind is None:
        raise SimError(321, f"tick-by-tick type {kind_text!r} is not one of "
                            f"{', '.join(T.TICK_BY_TICK_TYPES)}", req_id=req_id)
    inst = resolve(s, q, req_id)
    limit = s.gateway.config.limits.max_depth_requests
    if _count_streams(s, TBT) >= limit:
        raise SimError(10190, f"Max number of tick-by-tick requests has been reached ({limit}).", req_id=req_id)
    market = s.gateway.market
    now = s.gateway.clock.time()
    if count > 0:
        _send_tick_history(s, req_id, inst, kind, min(count, MAX_HISTORY_TICKS), now)
    # what was sent last, so that only changes go out
    state: dict[str, Any] = {"t": int(now), "bid": None, "mid": None}

    def update(now: float) -> None:
        if kind in (1, 2):
            for tr in trades(market, inst, state["t"], now):
                exchange = inst.primaryExchange or inst.exchange
                s.send_update(*T.tbt_last(req_id, kind, tr.time, tr.price, tr.size, exchange))
        else:
            q_ = market.quote(inst, now)
            if kind == 3:
                key = (q_.bid, q_.ask, q_.bid_size, q_.ask_size)
                if key != state["bid"]:
                    state["bid"] = key
                    s.send_update(*T.tbt_bid_ask(req_id, int(now), *key))
            else:
                mid = round((q_.bid + q_.ask) / 2, 6)
                if mid != state["mid"]:
                    state["mid"] = mid
                    s.send_update(*T.tbt_midpoint(req_id, int(now), mid))
        state["t"] = int(now)

    if count == 0:
        update(now)
    handle = s.gateway.pulse.add(update)
    s.add_subscription(TBT, req_id, lambda: s.gateway.pulse.remove(handle))


def _send_tick_history(s: Session, req_id: int, inst: Instrument, kind: int, count: int, now: float) -> None:
    market = s.gateway.market
    if kind in (1, 2):
        done = trades(market, inst, now - count * 3, now)[-count:]
        s.send(*T.historical_ticks_last(req_id, [(t.time, t.price, t.size, inst.primaryExchange or inst.exchange)
                                                 for t in done]))
    elif kind == 3:
        quotes = [market.quote(inst, t) for t in range(int(now) - count + 1, int(now) + 1)]
        s.send(*T.historical_ticks_bid_ask(req_id, [(int(q.time), q.bid, q.ask, q.bid_size, q.ask_size)
                                                    for q in quotes]))
    else:
        mids = [(t, round(market.price(inst, t), 6)) for t in range(int(now) - count + 1, int(now) + 1)]
        s.send(*T.historical_ticks_mid(req_id, mids))


@handles(Req.CANCEL_TICK_BY_TICK_DATA)
def cancel_tick_by_tick(s: Session, r: FieldReader) -> None:
    s.cancel_subscription(TBT, r.int("reqId"))


# ------------------------------------------------------------ market depth
@handles(Req.MKT_DEPTH)
def req_mkt_depth(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    q = read_contract(r)
    rows = r.int("numRows", default=5)
    smart = r.bool("isSmartDepth") if r.remaining else False
    if r.remaining:
        r.str("mktDepthOptions")
    if rows <= 0:
        raise SimError(321, f"numRows must be positive, not {rows}", req_id=req_id)
    inst = resolve(s, q, req_id)
    limit = s.gateway.config.limits.max_depth_requests
    if _count_streams(s, DEPTH) >= limit:
        raise SimError(309, "", req_id=req_id)
    rows = min(rows, 10 if inst.secType != "CASH" else 5)
    market = s.gateway.market
    book: dict[tuple[int, int], tuple[float, float, str]] = {}

    def update(now: float, first: bool = False) -> None:
        bids, asks = ladder(market, inst, now, rows)
        for side, levels in ((1, bids), (0, asks)):
            for pos, level in enumerate(levels):
                if book.get((side, pos)) == level:
                    continue
                op = 0 if (side, pos) not in book else 1
                book[(side, pos)] = level
                price, size, venue = level
                maker = venue if smart else None
                s.send_update(*T.depth_update(req_id, pos, op, side, price, size, maker, smart))

    update(s.gateway.clock.time(), first=True)
    handle = s.gateway.pulse.add(update)
    s.add_subscription(DEPTH, req_id, lambda: s.gateway.pulse.remove(handle))


@handles(Req.CANCEL_MKT_DEPTH)
def cancel_mkt_depth(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription(DEPTH, r.int("reqId"))


@handles(Req.MKT_DEPTH_EXCHANGES)
def req_mkt_depth_exchanges(s: Session, r: FieldReader) -> None:
    fields: list[object] = [Msg.MKT_DEPTH_EXCHANGES, len(DEPTH_VENUES) + 1]
    for venue in DEPTH_VENUES:
        fields += [venue, "STK", venue if venue in ("NYSE", "ARCA", "NSDQ") else "", "Deep2", 1]
    fields += ["IDEALPRO", "CASH", "", "Deep", 4]
    s.send(*fields)


# ------------------------------------------------------------ real-time bars
RTB_WHAT = ("TRADES", "MIDPOINT", "BID", "ASK")


@handles(Req.REAL_TIME_BARS)
def req_real_time_bars(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    q = read_contract(r)
    size = r.int("barSize", default=5)
    what = r.str("whatToShow").upper()
    r.bool("useRTH")
    if r.remaining:
        r.str("realTimeBarsOptions")
    if size != 5:
        raise SimError(420, f"only 5 second bars are supported (asked for {size})", req_id=req_id)
    if what not in RTB_WHAT:
        raise SimError(420, f"whatToShow {what!r}; use one of {', '.join(RTB_WHAT)}", req_id=req_id)
    inst = resolve(s, q, req_id)
    if what == "TRADES" and inst.secType == "CASH":
        raise SimError(420, "TRADES bars are not available for forex; use MIDPOINT, BID or ASK", req_id=req_id)
    market = s.gateway.market
    state = {"next": (int(s.gateway.clock.time()) // 5) * 5}

    def update(now: float) -> None:
        # a bar is sent once its five seconds are over, stamped with its start time
        while state["next"] + 5 <= now:
            b = bar(market, inst, state["next"], 5, what)
            s.send_update(*T.realtime_bar(req_id, b.time, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count))
            state["next"] += 5

    handle = s.gateway.pulse.add(update)
    s.add_subscription(RTB, req_id, lambda: s.gateway.pulse.remove(handle))


@handles(Req.CANCEL_REAL_TIME_BARS)
def cancel_real_time_bars(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription(RTB, r.int("reqId"))
