"""Market-data messages on the wire (server version 176): tick ids and message layouts."""

from __future__ import annotations

import struct
from functools import lru_cache

from ..models.pricing import Greeks
from .framing import format_field
from .ids import Msg

_LENGTH = struct.Struct(">I")

#: field name -> (live tick id, delayed tick id)
PRICE_TICKS: dict[str, tuple[int, int]] = {
    "bid": (1, 66), "ask": (2, 67), "last": (4, 68), "high": (6, 72), "low": (7, 73),
    "close": (9, 75), "open": (14, 76),
    "low_13w": (15, 15), "high_13w": (16, 16), "low_26w": (17, 17), "high_26w": (18, 18),
    "low_52w": (19, 19), "high_52w": (20, 20), "mark": (37, 37),
}
SIZE_TICKS: dict[str, tuple[int, int]] = {
    "bid_size": (0, 69), "ask_size": (3, 70), "last_size": (5, 71), "volume": (8, 74),
    "avg_volume": (21, 21), "call_open_interest": (27, 27), "put_open_interest": (28, 28),
    "call_volume": (29, 29), "put_volume": (30, 30), "shortable_shares": (89, 89),
}
GENERIC_TICKS: dict[str, int] = {
    "hist_vol": 23, "implied_vol": 24, "shortable": 46, "halted": 49, "trade_count": 54,
    "trade_rate": 55, "volume_rate": 56, "rt_hist_vol": 58,
}
STRING_TICKS: dict[str, int] = {"last_timestamp": 45, "rt_volume": 48, "fundamentals": 47, "rt_trade_volume": 77}
#: option computation: bid, ask, last, model (live and delayed)
OPTION_TICKS: dict[str, tuple[int, int]] = {"bid": (10, 80), "ask": (11, 81), "last": (12, 82), "model": (13, 83)}

#: generic tick ids TWS accepts in reqMktData's genericTickList
KNOWN_GENERIC = {100, 101, 104, 105, 106, 107, 125, 165, 166, 162, 225, 232, 221, 233, 236, 256, 258, 291, 292,
                 293, 294, 295, 318, 370, 375, 377, 381, 384, 387, 388, 391, 407, 411, 428, 439, 456, 459,
                 460, 499, 506, 511, 512, 588, 595, 608, 614, 619, 645}

#: tickAttrib bits on price ticks: canAutoExecute (bid/ask), pastLimit, preOpen
CAN_AUTO_EXECUTE = 1


def price_tick(req_id: int, name: str, value: float, size: float, delayed: bool) -> list[object]:
    """A tickPrice message (TWS sends the matching size in the same message since v73)."""
    tick = PRICE_TICKS[name][1 if delayed else 0]
    attrib = CAN_AUTO_EXECUTE if name in ("bid", "ask") else 0
    return [Msg.TICK_PRICE, 6, req_id, tick, value, size, attrib]


def price_tick_frame(req_id: int, name: str, value: float, size: float, delayed: bool) -> bytes:
    """The same message as :func:`price_tick`, encoded straight to a frame: the live feed sends
    hundreds of thousands of these a second, so this skips the generic field encoder."""
    tick = PRICE_TICKS[name][1 if delayed else 0]
    attrib = CAN_AUTO_EXECUTE if name in ("bid", "ask") else 0
    payload = f"1\x006\x00{req_id}\x00{tick}\x00{format_field(value)}\x00{format_field(size)}\x00{attrib}\x00".encode()
    return _LENGTH.pack(len(payload)) + payload


@lru_cache(maxsize=8192)
def size_tick_frame(req_id: int, name: str, value: float, delayed: bool) -> bytes:
    """The same message as :func:`size_tick`, encoded straight to a frame (see :func:`price_tick_frame`).

    Cached: displayed sizes take a few dozen values per line, so most size ticks repeat a frame
    already encoded (equal ints and floats encode alike, so sharing their entry is exact)."""
    tick = SIZE_TICKS[name][1 if delayed else 0]
    text = str(int(value)) if value == int(value) else format_field(value)
    payload = f"2\x006\x00{req_id}\x00{tick}\x00{text}\x00".encode()
    return _LENGTH.pack(len(payload)) + payload


def size_tick(req_id: int, name: str, value: float, delayed: bool) -> list[object]:
    """A tickSize message."""
    return [Msg.TICK_SIZE, 6, req_id, SIZE_TICKS[name][1 if delayed else 0], _num(value)]


def generic_tick(req_id: int, name: str, value: float) -> list[object]:
    """A tickGeneric message."""
    return [Msg.TICK_GENERIC, 6, req_id, GENERIC_TICKS[name], value]


def string_tick(req_id: int, name: str, value: str) -> list[object]:
    """A tickString message."""
    return [Msg.TICK_STRING, 6, req_id, STRING_TICKS[name], value]


def option_tick(req_id: int, kind: str, g: Greeks, iv: float, opt_price: float, und_price: float,
                delayed: bool) -> list[object]:
    """A tickOptionComputation message (v176 layout: no version, with tickAttrib)."""
    tick = OPTION_TICKS[kind][1 if delayed else 0]
    return [Msg.TICK_OPTION_COMPUTATION, req_id, tick, 0, _opt(iv), g.delta, _opt(opt_price), 0.0,
            g.gamma, g.vega, g.theta, _opt(und_price)]


def req_params(req_id: int, min_tick: float, bbo_exchange: str = "", snapshot_permissions: int = 3) -> list[object]:
    """tickReqParams: sent once when a subscription starts."""
    return [Msg.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions]


def market_data_type(req_id: int, kind: int) -> list[object]:
    """marketDataType: tells the client whether the ticks that follow are live, frozen or delayed."""
    return [Msg.MARKET_DATA_TYPE, 1, req_id, kind]


def snapshot_end(req_id: int) -> list[object]:
    """tickSnapshotEnd: the end of a snapshot's ticks."""
    return [Msg.TICK_SNAPSHOT_END, 1, req_id]


def _opt(v: float) -> float:
    """TWS sends -1 for an option value it cannot compute."""
    return v if v == v and v > 0 else -1.0


def _num(v: float) -> object:
    return int(v) if float(v).is_integer() else v


# ------------------------------------------------------------ tick-by-tick and historical ticks
TICK_BY_TICK_TYPES = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}


def tbt_last(req_id: int, kind: int, ts: int, price: float, size: float, exchange: str) -> list[object]:
    """A tickByTick trade (Last or AllLast)."""
    return [Msg.TICK_BY_TICK, req_id, kind, ts, price, _num(size), 0, exchange, ""]


def tbt_bid_ask(req_id: int, ts: int, bid: float, ask: float, bid_size: float, ask_size: float) -> list[object]:
    """A tickByTick BidAsk update."""
    return [Msg.TICK_BY_TICK, req_id, 3, ts, bid, ask, _num(bid_size), _num(ask_size), 0]


def tbt_midpoint(req_id: int, ts: int, mid: float) -> list[object]:
    """A tickByTick MidPoint update."""
    return [Msg.TICK_BY_TICK, req_id, 4, ts, mid]


def historical_ticks_last(req_id: int, rows: list[tuple[int, float, float, str]], done: bool = True) -> list[object]:
    """historicalTicksLast: (time, price, size, exchange) rows."""
    fields: list[object] = [Msg.HISTORICAL_TICKS_LAST, req_id, len(rows)]
    for ts, price, size, exch in rows:
        fields += [ts, 0, price, _num(size), exch, ""]
    return [*fields, done]


def historical_ticks_bid_ask(req_id: int, rows: list[tuple[int, float, float, float, float]],
                             done: bool = True) -> list[object]:
    """historicalTicksBidAsk: (time, bid, ask, bid size, ask size) rows."""
    fields: list[object] = [Msg.HISTORICAL_TICKS_BID_ASK, req_id, len(rows)]
    for ts, bid, ask, bsz, asz in rows:
        fields += [ts, 0, bid, ask, _num(bsz), _num(asz)]
    return [*fields, done]


def historical_ticks_mid(req_id: int, rows: list[tuple[int, float]], done: bool = True) -> list[object]:
    """historicalTicks (MIDPOINT): (time, price) rows."""
    fields: list[object] = [Msg.HISTORICAL_TICKS, req_id, len(rows)]
    for ts, price in rows:
        fields += [ts, 0, price, 0]
    return [*fields, done]


# ------------------------------------------------------------ depth and real-time bars
def depth_update(req_id: int, position: int, operation: int, side: int, price: float, size: float,
                 market_maker: str | None = None, smart: bool = False) -> list[object]:
    """updateMktDepth (no market maker) or updateMktDepthL2 (with one)."""
    if market_maker is None:
        return [Msg.MARKET_DEPTH, 1, req_id, position, operation, side, price, _num(size)]
    return [Msg.MARKET_DEPTH_L2, 1, req_id, position, market_maker, operation, side, price, _num(size), smart]


def realtime_bar(req_id: int, ts: int, o: float, h: float, lo: float, c: float, volume: float, wap: float,
                 count: int) -> list[object]:
    """realtimeBar: one five-second bar."""
    return [Msg.REAL_TIME_BARS, 3, req_id, ts, o, h, lo, c, _num(volume), wap, count]


def news_tick(req_id: int, ms: int, provider: str, article_id: str, headline: str) -> list[object]:
    """tickNews: one headline on a market-data line (generic tick 292)."""
    return [Msg.TICK_NEWS, req_id, ms, provider, article_id, headline, ""]
