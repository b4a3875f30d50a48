"""A paper account: cash by currency, positions, realized P&L, and the figures TWS reports
(net liquidation, margin, buying power...) computed from the simulated market."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..combos import margin_with_spreads
from ..instruments import Instrument

if TYPE_CHECKING:
    from ..market import Market
    from ..universe import Universe

#: initial and maintenance margin rates (Reg T style) by security type and side
MARGIN = {
    ("STK", 1): (0.50, 0.25), ("STK", -1): (0.50, 0.30),
    ("FUT", 1): (0.08, 0.065), ("FUT", -1): (0.08, 0.065),
    ("CASH", 1): (0.03, 0.02), ("CASH", -1): (0.03, 0.02),
    ("CRYPTO", 1): (1.0, 1.0), ("CRYPTO", -1): (1.0, 1.0),
}


@dataclass
class Position:
    """A holding: quantity, average cost per unit (times the multiplier, as IB reports it)."""

    con_id: int
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0
    opened_day: str = ""


@dataclass
class Account:
    """One paper account's cash and positions."""

    account_id: str
    base_currency: str = "USD"
    cash: dict[str, float] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    realized_today: float = 0.0
    day: str = ""

    def to_json(self) -> dict:
        """A plain dict for the state store."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> Account:
        """Rebuild an account saved by :meth:`to_json`."""
        acct = cls(raw["account_id"], raw.get("base_currency", "USD"), dict(raw.get("cash", {})),
                   realized_today=raw.get("realized_today", 0.0), day=raw.get("day", ""))
        acct.positions = {int(k): Position(**v) for k, v in raw.get("positions", {}).items()}
        return acct

    # ------------------------------------------------------------ trades
    def apply_fill(self, inst: Instrument, signed_qty: float, price: float, commission: float, day: str) -> float:
        """Book an execution; returns the realized P&L it produced (after commission)."""
        mult = inst.multiplier_value
        cur = inst.currency
        if self.day != day:
            self.day, self.realized_today = day, 0.0
        pos = self.positions.get(inst.conId) or Position(inst.conId, opened_day=day)
        realized = -commission
        unit_cost = price * mult
        if pos.quantity == 0 or (pos.quantity > 0) == (signed_qty > 0):
            # adding to (or opening) a position: the average cost absorbs the commission, as IB does
            total = pos.avg_cost * abs(pos.quantity) + unit_cost * abs(signed_qty) + commission
            pos.quantity += signed_qty
            pos.avg_cost = total / abs(pos.quantity)
            realized = 0.0
        else:
            closing = min(abs(signed_qty), abs(pos.quantity))
            direction = 1 if pos.quantity > 0 else -1
            realized += (unit_cost - pos.avg_cost) * closing * direction
            pos.quantity += signed_qty
            if abs(pos.quantity) < 1e-9:
                pos.quantity, pos.avg_cost = 0.0, 0.0
            elif (pos.quantity > 0) != (direction > 0):  # flipped through zero
                pos.avg_cost = unit_cost
                pos.opened_day = day
        pos.realized += realized
        self.realized_today += realized
        if inst.secType == "FUT":
            # futures settle their P&L in cash; the position carries no cash value
            self.cash[cur] = self.cash.get(cur, 0.0) + realized
        else:
            self.cash[cur] = self.cash.get(cur, 0.0) - signed_qty * unit_cost - commission
        # a closed position stays (at zero) so that clients hear it went to zero, as TWS reports it
        self.positions[inst.conId] = pos
        return realized


class Valuation:
    """Marks an account to the simulated market and derives every figure TWS reports."""

    def __init__(self, market: Market, universe: Universe) -> None:
        self.market = market
        self.universe = universe

    def fx_rate(self, currency: str, base: str = "USD") -> float:
        """Units of ``base`` per unit of ``currency`` at the simulated rates."""
        if currency == base:
            return 1.0
        for inst in self.universe.all_listed():
            if inst.secType != "CASH":
                continue
            if inst.symbol == currency and inst.currency == base:
                return self.market.price(inst)
            if inst.symbol == base and inst.currency == currency:
                return 1.0 / self.market.price(inst)
        return 1.0

    def position_rows(self, acct: Account) -> list[dict]:
        """One row per position: market price and value, unrealized P&L, margins (base currency)."""
        rows = []
        for pos in acct.positions.values():
            inst = self.universe.get(pos.con_id)
            if inst is None or pos.quantity == 0:
                continue
            price = self.market.price(inst)
            mult = inst.multiplier_value
            fx = self.fx_rate(inst.currency, acct.base_currency)
            value = pos.quantity * price * mult
            unreal = value - pos.quantity * pos.avg_cost
            side = 1 if pos.quantity > 0 else -1
            init, maint = self._margin(inst, pos.quantity, price)
            prev_close = self.market.quote(inst).close
            ref = pos.avg_cost / mult if pos.opened_day == acct.day else prev_close
            rows.append({"inst": inst, "position": pos.quantity, "price": price, "value": value * fx,
                         "avg_cost": pos.avg_cost, "unrealized": unreal * fx, "realized": pos.realized * fx,
                         "init": init * fx, "maint": maint * fx, "side": side,
                         "daily": (price - ref) * pos.quantity * mult * fx})
        return rows

    def _margin(self, inst: Instrument, qty: float, price: float) -> tuple[float, float]:
        mult = inst.multiplier_value
        side = 1 if qty > 0 else -1
        if inst.is_option:
            if side > 0:
                return 0.0, 0.0
            und = self.universe.get(inst.underConId)
            und_px = self.market.price(und) if und else price
            req = abs(qty) * mult * (price + max(0.2 * und_px - max(0.0, _otm(inst, und_px)), 0.1 * und_px))
            return req, req
        init, maint = MARGIN.get((inst.secType, side), (0.5, 0.3))
        notional = abs(qty) * price * mult
        return notional * init, notional * maint

    def values(self, acct: Account) -> dict[str, float]:
        """The account's key figures in its base currency."""
        base = acct.base_currency
        cash = sum(amount * self.fx_rate(cur, base) for cur, amount in acct.cash.items())
        rows = self.position_rows(acct)
        stock = sum(r["value"] for r in rows if r["inst"].secType in ("STK", "CASH", "CRYPTO"))
        option = sum(r["value"] for r in rows if r["inst"].is_option)
        fut_unreal = sum(r["unrealized"] for r in rows if r["inst"].secType == "FUT")
        gross = sum(abs(r["value"]) for r in rows if r["inst"].secType != "FUT")
        nlv = cash + stock + option + fut_unreal
        # options margin as spreads where they are (a vertical margins its maximum loss)
        init, maint = margin_with_spreads(rows)
        unreal = sum(r["unrealized"] for r in rows)
        realized = acct.realized_today
        available = nlv - init
        excess = nlv - maint
        return {
            "NetLiquidation": nlv, "TotalCashValue": cash, "SettledCash": cash, "AccruedCash": 0.0,
            "BuyingPower": max(available, 0.0) * 4, "EquityWithLoanValue": nlv, "PreviousDayEquityWithLoanValue": nlv,
            "GrossPositionValue": gross, "RegTEquity": nlv, "RegTMargin": init, "SMA": max(available, 0.0),
            "InitMarginReq": init, "MaintMarginReq": maint, "AvailableFunds": available, "ExcessLiquidity": excess,
            "Cushion": excess / nlv if nlv else 0.0, "FullInitMarginReq": init, "FullMaintMarginReq": maint,
            "FullAvailableFunds": available, "FullExcessLiquidity": excess, "LookAheadInitMarginReq": init,
            "LookAheadMaintMarginReq": maint, "LookAheadAvailableFunds": available,
            "LookAheadExcessLiquidity": excess, "HighestSeverity": 0.0, "DayTradesRemaining": -1.0,
            "Leverage": gross / nlv if nlv else 0.0, "StockMarketValue": stock, "OptionMarketValue": option,
            "FuturesPNL": fut_unreal, "UnrealizedPnL": unreal, "RealizedPnL": realized,
            "DailyPnL": realized + sum(r["daily"] for r in rows),
        }


def _otm(inst: Instrument, und_px: float) -> float:
    return max(0.0, inst.strike - und_px) if inst.right == "C" else max(0.0, und_px - inst.strike)
