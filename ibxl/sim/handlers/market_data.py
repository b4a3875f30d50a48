"""reqMktData and cancelMktData: streaming and snapshot top-of-book, generic ticks, option greeks.

The handler owns only wire concerns (tick ids, message layouts, live/delayed flavours); what
the market looks like comes from ``Market`` and ``feed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SimError
from ..models.combos import Combo, build_combo, combo_quote
from ..models.instruments import Instrument
from ..models.market import Quote
from ..models.market_data import QuoteFeed, extended_stats, has_trades
from ..models.pricing import Greeks
from ..models.universe import ContractQuery
from ..protocol import market_data as T
from ..protocol.contracts import read_combo_legs, read_contract
from ..protocol.fields import FieldReader
from ..protocol.framing import encode_frame
from ..protocol.ids import Req
from ..session import Session
from . import handles

KIND = "mkt"
#: delayed market data lags the live feed by 15 minutes, as IB's free delayed data does
DELAY_SECONDS = 15 * 60
#: how often the slow-moving generic ticks (ranges, volatilities) are refreshed
SLOW_REFRESH = 10.0


def resolve(s: Session, q: ContractQuery, req_id: int) -> Instrument:
    """The one instrument a streaming request means; error 200 when none or several match."""
    if q.secType == "BAG":
        raise SimError(321, "combination (BAG) contracts are only accepted by reqMktData and placeOrder",
                       req_id=req_id)
    matches = s.gateway.universe.match(q)
    if not matches:
        raise SimError(200, "", req_id=req_id)
    if len(matches) > 1:
        names = ", ".join(m.describe() for m in matches[:4])
        raise SimError(200, f"The contract description specified for {q.symbol} is ambiguous ({names}, ...); "
                            "add exchange, currency, expiry or conId", req_id=req_id)
    return matches[0]


def parse_generic_ticks(text: str, req_id: int) -> set[int]:
    """The generic tick ids of a genericTickList such as ``"100,101,233"``."""
    out: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) not in T.KNOWN_GENERIC:
            raise SimError(321, f"Incorrect generic tick list of {text}. "
                                f"Legal ones for (STK) are: 100,101,104,105,106,107,165,221,225,233,236,258,"
                                f"293,294,295,318,411", req_id=req_id)
        out.add(int(part))
    return out


@dataclass
class MarketDataStream:
    """One reqMktData subscription (or snapshot) of one client."""

    session: Session
    req_id: int
    inst: Instrument
    generic: set[int]
    data_type: int
    feed: QuoteFeed = field(default_factory=QuoteFeed)
    last_slow: float = 0.0
    trade_count: float = 0.0
    pulse_handle: int = 0
    started: float = 0.0
    #: set for a combination (BAG) line, whose quote comes from its legs
    combo: Combo | None = None

    @property
    def delayed(self) -> bool:
        return self.data_type in (3, 4)

    def start(self, now: float, snapshot: bool) -> None:
        """Send the request parameters and the full current picture."""
        s = self.session
        self.started = now
        s.send(*T.req_params(self.req_id, self.inst.minTick, "9c0001" if self.inst.secType == "STK" else "", 3))
        s.send(*T.market_data_type(self.req_id, self.data_type))
        if self.delayed:
            s.error(self.req_id, 10167, "Requested market data is not subscribed. Displaying delayed market data.")
        self.update(now, first=True)

    def update(self, now: float, first: bool = False) -> None:
        """Send what changed since the last update."""
        s = self.session
        market = s.gateway.market
        delayed = self.delayed
        moment = now - DELAY_SECONDS if delayed else now
        q = combo_quote(market, self.combo, moment) if self.combo else market.quote(self.inst, moment)
        trades = has_trades(self.inst)
        changes = self.feed.changes(q, has_trades=trades, signed=self.combo is not None)
        if changes:
            # one write of every changed field: the tick path's cost is per message, so the frames
            # are encoded directly and queued together
            req_id = self.req_id
            frames = [T.size_tick_frame(req_id, name, value, delayed) if name in T.SIZE_TICKS
                      else self._price_frame(name, value, q, delayed) for name, value in changes]
            s.send_update_frame(b"".join(frames), len(frames))
        if self.inst.is_option and now - self.started >= s.gateway.config.model_greeks_delay:
            self._send_greeks(moment, q)
        if 292 in self.generic and first:
            self._send_news(moment)
        if self.generic and self.combo is None and (first or now - self.last_slow >= SLOW_REFRESH):
            self.last_slow = now
            self._send_generic(moment, q)
        if 233 in self.generic and trades and not first:
            vwap = (q.high + q.low + q.last) / 3.0
            s.send_update(*T.string_tick(self.req_id, "rt_volume",
                                         f"{q.last};{int(q.last_size)};{int(moment * 1000)};{int(q.volume)};"
                                         f"{vwap:.6f};true"))

    def _send_news(self, moment: float) -> None:
        """Recent headlines as news ticks (generic tick 292)."""
        news = self.session.gateway.news
        for h in news.headlines(self.inst, moment - 3 * 86400, moment, ["BRFG", "BRFUPDN", "DJNL"], 5):
            self.session.send_update(*T.news_tick(self.req_id, int(h.time * 1000), h.provider, h.article_id,
                                                  h.headline))

    def _price_frame(self, name: str, value: float, q: Quote, delayed: bool) -> bytes:
        """The encoded message(s) for one changed top-of-book price (sizes ride with their price
        tick; a size alone goes as a size tick)."""
        size = (q.bid_size if name == "bid" else q.ask_size if name == "ask"
                else q.last_size if name == "last" else 0)
        frame = T.price_tick_frame(self.req_id, name, value, size, delayed)
        if name == "last":
            frame += encode_frame(T.string_tick(self.req_id, "last_timestamp", str(int(q.time))))
        return frame

    def _send_greeks(self, moment: float, q: Quote) -> None:
        market = self.session.gateway.market
        und = self.session.gateway.universe.get(self.inst.underConId)
        if und is None:
            return
        und_price = market.price(und, moment)
        g = market.option_greeks(self.inst, moment, und_price)
        d = self.delayed
        s = self.session
        s.send_update(*T.option_tick(self.req_id, "model", g, g.iv, g.price, und_price, d))
        for kind, px in (("bid", q.bid), ("ask", q.ask), ("last", q.last)):
            s.send_update(*T.option_tick(self.req_id, kind, g, _iv_at(g, px), px, und_price, d))

    def _send_generic(self, moment: float, q: Quote) -> None:
        s = self.session
        market = s.gateway.market
        gen = self.generic
        inst = self.inst
        stats = extended_stats(market, inst, moment) if gen & {104, 106, 165, 411} else {}
        if 165 in gen:
            for name in ("low_13w", "high_13w", "low_26w", "high_26w", "low_52w", "high_52w"):
                s.send_update(*T.price_tick(self.req_id, name, round(stats[name], 4), 0, False))
            s.send_update(*T.size_tick(self.req_id, "avg_volume", stats["avg_volume"], False))
        if 104 in gen:
            s.send_update(*T.generic_tick(self.req_id, "hist_vol", round(stats["hist_vol"], 6)))
        if 106 in gen:
            s.send_update(*T.generic_tick(self.req_id, "implied_vol", round(stats["implied_vol"], 6)))
        if 411 in gen:
            s.send_update(*T.generic_tick(self.req_id, "rt_hist_vol", round(stats["rt_hist_vol"] * 100, 4)))
        if 221 in gen:
            s.send_update(*T.price_tick(self.req_id, "mark", round(q.mid, 6), 0, False))
        if 236 in gen:
            s.send_update(*T.generic_tick(self.req_id, "shortable", 3.0))
            s.send_update(*T.size_tick(self.req_id, "shortable_shares", float(int(inst.avgVolume * 5)), False))
        if 293 in gen or 294 in gen:
            trades = max(1.0, q.volume / 250.0)
            if 293 in gen:
                s.send_update(*T.generic_tick(self.req_id, "trade_count", float(int(trades))))
            if 294 in gen:
                s.send_update(*T.generic_tick(self.req_id, "trade_rate", round(trades / 390.0, 3)))
        if 295 in gen:
            s.send_update(*T.generic_tick(self.req_id, "volume_rate", round(q.volume / 390.0, 3)))
        if 258 in gen and inst.secType == "STK":
            s.send_update(*T.string_tick(self.req_id, "fundamentals", _fundamentals(inst, q)))
        if 100 in gen or 101 in gen:
            self._send_option_interest(gen, moment)

    def _send_option_interest(self, gen: set[int], moment: float) -> None:
        """Option volume (100) and open interest (101): for an underlying, totals over its chain."""
        s = self.session
        inst = self.inst
        universe = s.gateway.universe
        if inst.is_option:
            oi = _open_interest(inst)
            vol = s.gateway.market.quote(inst, moment).volume
            side = "call" if inst.right == "C" else "put"
            if 101 in gen:
                s.send_update(*T.size_tick(self.req_id, f"{side}_open_interest", oi, False))
            if 100 in gen:
                s.send_update(*T.size_tick(self.req_id, f"{side}_volume", vol, False))
            return
        if not inst.optionable:
            return
        calls = puts = 0.0
        for opt in universe.options_of(inst)[:400]:
            if opt.right == "C":
                calls += _open_interest(opt)
            else:
                puts += _open_interest(opt)
        if 101 in gen:
            s.send_update(*T.size_tick(self.req_id, "call_open_interest", calls, False))
            s.send_update(*T.size_tick(self.req_id, "put_open_interest", puts, False))
        if 100 in gen:
            s.send_update(*T.size_tick(self.req_id, "call_volume", round(calls * 0.12), False))
            s.send_update(*T.size_tick(self.req_id, "put_volume", round(puts * 0.1), False))


def _iv_at(g: Greeks, price: float) -> float:
    """Implied volatility at a quoted price: one Newton step from the model (cheap and close)."""
    if price <= 0 or g.vega <= 1e-6:
        return g.iv
    return max(0.01, g.iv + (price - g.price) / (g.vega * 100.0))


def _open_interest(opt: Instrument) -> float:
    """A stable open interest per option, larger near the money and for monthlies."""
    seed = (opt.conId * 2654435761) % 1000
    return float(200 + seed * 7)


def _fundamentals(inst: Instrument, q: Quote) -> str:
    cap_m = inst.marketCap / 1e6 if inst.marketCap else q.last * 1e3
    eps = q.last / 24.0
    return f"MKTCAP={cap_m:.1f};PEEXCLXOR={q.last / eps:.2f};TTMEPSXCLX={eps:.3f};NPRICE={q.last:.2f};QCURRATIO=1.4"


def _streams(s: Session) -> dict[int, MarketDataStream]:
    return s.state.setdefault(KIND, {})


@handles(Req.MKT_DATA)
def req_mkt_data(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    q = read_contract(r)
    legs = read_combo_legs(r) if q.secType == "BAG" else []
    if r.bool("deltaNeutralContractPresent"):
        r.int("dncConId"), r.float("dncDelta"), r.float("dncPrice")
    generic_text = r.str("genericTickList")
    snapshot = r.bool("snapshot")
    regulatory = r.bool("regulatorySnapshot")
    if r.remaining:
        r.str("mktDataOptions")
    combo = build_combo(s.gateway.universe.get, legs, q.symbol, q.currency, req_id) if q.secType == "BAG" else None
    inst = combo.instrument() if combo else resolve(s, q, req_id)
    generic = parse_generic_ticks(generic_text, req_id)
    streams = _streams(s)
    if req_id in streams:
        raise SimError(102, f"ticker id {req_id} is already streaming; cancel it first", req_id=req_id)
    if (snapshot or regulatory) and generic:
        raise SimError(321, "Snapshot market data subscription is "
                            "not applicable to generic ticks", req_id=req_id)
    now = s.gateway.clock.time()
    kind = _effective_type(s, combo.instruments[0] if combo else inst, now)
    stream = MarketDataStream(s, req_id, inst, generic, kind, combo=combo)
    if snapshot or regulatory:
        stream.start(now, snapshot=True)
        s.send(*T.snapshot_end(req_id))
        return
    limit = s.gateway.config.limits.market_data_lines
    if len(streams) >= limit:
        raise SimError(101, f"(limit {limit} simultaneous lines)", req_id=req_id)
    stream.start(now, snapshot=False)
    streams[req_id] = stream
    stream.pulse_handle = s.gateway.pulse.add(stream.update)

    def stop() -> None:
        streams.pop(req_id, None)
        s.gateway.pulse.remove(stream.pulse_handle)

    s.add_subscription(KIND, req_id, stop)


def _effective_type(s: Session, inst: Instrument, now: float) -> int:
    """Live unless the client asked for delayed data; frozen types freeze only when the market is shut."""
    kind = s.market_data_type
    if kind in (2, 4):
        is_open = s.gateway.market.quote(inst, now).is_open
        if is_open:
            return 1 if kind == 2 else 3
    return kind


@handles(Req.CANCEL_MKT_DATA)
def cancel_mkt_data(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    # TWS ignores cancels of unknown ids silently (ib_async cancels snapshots that already ended)
    s.cancel_subscription(KIND, req_id)


def lines_in_use(s: Session) -> int:
    """Market-data lines a client holds (for the CLI's status and the tests)."""
    return len(_streams(s))


