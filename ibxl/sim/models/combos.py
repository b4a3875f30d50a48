"""Combination (BAG) contracts: legs by conId, the combo's quote from its legs, how a combo fill
splits into leg fills, and the margin offset a defined-risk spread earns. Pure model code: no
wire fields, no handlers.

A combo's price is the net of its legs per unit of the combo: a leg bought counts plus, a leg
sold counts minus, each times its ratio. The combo's bid is what it sells for now (sell the
bought legs at their bids, buy back the sold legs at their asks); its ask is the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import SimError
from .instruments import Instrument
from .market import Market, Quote

#: the contract id TWS reports for every combination contract
BAG_CONID = 28812380
#: most legs a combo may have (TWS allows a handful; SMART option combos up to four or six)
MAX_LEGS = 8


@dataclass(frozen=True)
class Leg:
    """One leg: which contract, how many per combo unit, and its side when the combo is bought."""

    con_id: int
    ratio: int
    action: str  # BUY or SELL
    exchange: str = "SMART"

    @property
    def sign(self) -> int:
        """+1 for a bought leg, -1 for a sold one."""
        return 1 if self.action == "BUY" else -1

    def to_json(self) -> dict:
        """A plain dict for the state store."""
        return {"con_id": self.con_id, "ratio": self.ratio, "action": self.action, "exchange": self.exchange}


def legs_description(legs: Iterable[Leg]) -> str:
    """Legs as TWS's comboLegsDescrip shows them: ``conId|signed ratio`` per leg, comma separated."""
    return ",".join(f"{leg.con_id}|{leg.sign * leg.ratio}" for leg in legs)


@dataclass(frozen=True)
class Combo:
    """A resolved combo: its legs and their instruments."""

    legs: tuple[Leg, ...]
    instruments: tuple[Instrument, ...]
    symbol: str
    currency: str

    def instrument(self) -> Instrument:
        """The BAG contract as the gateway reports it (conId 28812380, SMART)."""
        first = self.instruments[0]
        # TWS shows every combo with local symbol "28812380" and trading class COMB
        return Instrument(conId=BAG_CONID, symbol=self.symbol, secType="BAG", exchange="SMART",
                          currency=self.currency, localSymbol=str(BAG_CONID), tradingClass="COMB",
                          minTick=0.01, calendar=first.calendar,
                          longName=self.description(), timeZoneId=first.timeZoneId)

    def description(self) -> str:
        """The legs as TWS's comboLegsDescrip shows them: ``conId|signed ratio,...``."""
        return legs_description(self.legs)

    def pairs(self) -> Iterable[tuple[Leg, Instrument]]:
        """Each leg with its instrument."""
        return zip(self.legs, self.instruments, strict=True)


def build_combo(universe_get: Callable[[int], Instrument | None], legs: list[Leg], symbol: str = "",
                currency: str = "", req_id: int = -1) -> Combo:
    """Resolve legs against the universe, refusing what TWS refuses (error 321).

    ``universe_get`` is the universe's ``get(conId)``.
    """
    if not legs:
        raise SimError(321, "-'bN' : cause - Security type 'BAG' requires combo leg "
                            "details.", req_id=req_id)
    if len(legs) > MAX_LEGS:
        raise SimError(321, f"-'bN' : cause - a combo has at most {MAX_LEGS} legs "
                            f"(got {len(legs)})", req_id=req_id)
    insts: list[Instrument] = []
    for i, leg in enumerate(legs, start=1):
        inst = universe_get(leg.con_id) if leg.con_id else None
        side = {"BUY": 1, "SELL": 2}.get(leg.action, 0)
        if inst is None or leg.ratio <= 0 or side == 0 or inst.secType in ("BAG", "IND"):
            raise SimError(321, f"-'bN' : cause - The combo details for leg '{i}' are "
                                f"invalid. - conid, ratio, side: {leg.con_id}, {leg.ratio}, {side}", req_id=req_id)
        insts.append(inst)
    currencies = {x.currency for x in insts}
    if len(currencies) > 1:
        raise SimError(321, "-'bN' : cause - all legs of a combo must trade in one "
                            f"currency (got {', '.join(sorted(currencies))})", req_id=req_id)
    if len({leg.con_id for leg in legs}) != len(legs):
        raise SimError(321, "-'bN' : cause - a combo lists the same leg twice",
                       req_id=req_id)
    names = {x.symbol for x in insts}
    sym = symbol.strip() or (insts[0].symbol if len(names) == 1 else ",".join(sorted(names)))
    return Combo(tuple(legs), tuple(insts), sym, currency or insts[0].currency)


def _r(x: float) -> float:
    # sums of tick-grid prices pick up float noise; four decimals is finer than any tick
    return round(x, 4)


def combo_quote(market: Market, combo: Combo, ts: float | None = None) -> Quote:
    """The combo's top of book from its legs' quotes at ``ts``."""
    bid = ask = last = close = opn = mid = 0.0
    bid_size = ask_size = math.inf
    is_open = True
    when = 0.0
    for leg, inst in combo.pairs():
        q = market.quote(inst, ts)
        when = q.time
        r = leg.ratio
        is_open = is_open and q.is_open
        if leg.sign > 0:
            bid += r * q.bid
            ask += r * q.ask
            bid_size = min(bid_size, q.bid_size // r)
            ask_size = min(ask_size, q.ask_size // r)
        else:
            bid -= r * q.ask
            ask -= r * q.bid
            bid_size = min(bid_size, q.ask_size // r)
            ask_size = min(ask_size, q.bid_size // r)
        last += leg.sign * r * q.last
        close += leg.sign * r * q.close
        opn += leg.sign * r * q.open
        mid += leg.sign * r * q.mid
    bid_size = max(float(bid_size), 1.0)
    ask_size = max(float(ask_size), 1.0)
    lo, hi = sorted((_r(opn), _r(last)))
    return Quote(when, _r(bid), _r(ask), _r(last), bid_size, ask_size, 1.0, 0.0, _r(opn), hi, lo, _r(close),
                 _r(mid), is_open)


def leg_fill_prices(market: Market, combo: Combo, buy: bool, ts: float | None = None) -> list[float]:
    """Each leg's price when the combo trades at the market: buying the combo buys its bought legs
    at their asks and sells its sold legs at their bids (selling the combo is the reverse)."""
    out = []
    for leg, inst in combo.pairs():
        q = market.quote(inst, ts)
        takes_ask = (leg.sign > 0) == buy
        out.append(q.ask if takes_ask else q.bid)
    return out


def fill_price(q: Quote, limit: float, buy: bool) -> float | None:
    """Where a combo limit order trades against a combo quote, None while it cannot.

    A marketable limit takes the far side (the ask for a buy). A limit between the mid and the far
    side trades at the limit: spread orders meet market makers in the exchanges' complex order
    books near the legs' mid, where single legs would cross their own spreads.
    """
    far = q.ask if buy else q.bid
    if buy:
        if limit >= far:
            return far
        return limit if limit >= q.mid - 1e-9 else None
    if limit <= far:
        return far
    return limit if limit <= q.mid + 1e-9 else None


def legs_for_net(market: Market, combo: Combo, buy: bool, net: float, ts: float | None = None) -> list[float]:
    """Leg prices that add up to ``net``: every leg the same fraction of the way from its mid to
    the side it trades on (its ask when bought, its bid when sold)."""
    mids, far = [], []
    for leg, inst in combo.pairs():
        q = market.quote(inst, ts)
        takes_ask = (leg.sign > 0) == buy
        mids.append(q.mid)
        far.append(q.ask if takes_ask else q.bid)
    mid_net = sum(leg.sign * leg.ratio * m for leg, m in zip(combo.legs, mids, strict=True))
    far_net = sum(leg.sign * leg.ratio * f for leg, f in zip(combo.legs, far, strict=True))
    frac = 1.0 if abs(far_net - mid_net) < 1e-12 else (net - mid_net) / (far_net - mid_net)
    return [round(m + frac * (f - m), 6) for m, f in zip(mids, far, strict=True)]


def net_price(combo: Combo, leg_prices: list[float]) -> float:
    """The combo price that leg prices add up to."""
    return _r(sum(leg.sign * leg.ratio * p for leg, p in zip(combo.legs, leg_prices, strict=True)))


# ------------------------------------------------------------ spread margin
def worst_expiry_value(positions: list[tuple[Instrument, float]]) -> float | None:
    """The lowest value the positions (options and their underlying stock) can have at expiry, over
    every underlying price; None when unbounded below (a naked short call, short stock).

    The value is piecewise linear in the underlying price with kinks at the strikes, so checking
    zero, every strike and the slope beyond the highest strike is exact.
    """
    strikes = sorted({inst.strike for inst, _ in positions if inst.is_option})
    slope_up = 0.0
    for inst, qty in positions:
        if inst.is_option and inst.right == "C":
            slope_up += qty * inst.multiplier_value
        elif not inst.is_option:
            slope_up += qty
    if slope_up < -1e-9:
        return None

    def value(s: float) -> float:
        total = 0.0
        for inst, qty in positions:
            if inst.is_option:
                intrinsic = max(s - inst.strike, 0.0) if inst.right == "C" else max(inst.strike - s, 0.0)
                total += qty * inst.multiplier_value * intrinsic
            else:
                total += qty * s
        return total

    return min(value(s) for s in [0.0, *strikes])


def margin_with_spreads(rows: list[dict]) -> tuple[float, float]:
    """Initial and maintenance margin of position rows (each with ``inst``, ``position``, ``init``,
    ``maint``), where the options on one underlying, with its stock, margin at most their worst
    value at expiry: a defined-risk spread margins its maximum loss, not its naked legs."""
    init = sum(r["init"] for r in rows if not r["inst"].is_option)
    maint = sum(r["maint"] for r in rows if not r["inst"].is_option)
    groups: dict[int, list[dict]] = {}
    for r in rows:
        if r["inst"].is_option:
            groups.setdefault(r["inst"].underConId, []).append(r)
    for und, opts in groups.items():
        naked_init = sum(r["init"] for r in opts)
        naked_maint = sum(r["maint"] for r in opts)
        stock = [r for r in rows if r["inst"].conId == und]
        worst = worst_expiry_value([(r["inst"], r["position"]) for r in opts + stock])
        if worst is None:
            init += naked_init
            maint += naked_maint
            continue
        need = max(0.0, -worst)
        init += min(naked_init, need)
        maint += min(naked_maint, need)
    return init, maint
