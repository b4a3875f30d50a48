"""IB's commission schedules (tiered pricing, lowest volume tier), as the paper broker charges them."""

from __future__ import annotations

from ..instruments import Instrument


def commission(inst: Instrument, quantity: float, price: float) -> float:
    """Commission in the instrument's currency for one execution."""
    qty = abs(quantity)
    if inst.secType == "STK":
        # $0.0035 a share, at least $0.35, at most 1% of the trade value
        return round(min(max(0.0035 * qty, 0.35), 0.01 * qty * price), 4)
    if inst.secType in ("OPT", "FOP"):
        per = 0.65 if price >= 0.10 else (0.50 if price >= 0.05 else 0.25)
        return round(max(per * qty, 1.0), 4)
    if inst.secType == "FUT":
        return round(2.25 * qty, 4)  # $0.85 IB + about $1.40 exchange and regulatory fees
    if inst.secType == "CASH":
        return round(max(0.00002 * qty * price, 2.0), 4)
    if inst.secType == "CRYPTO":
        return round(max(0.0018 * qty * price, 1.75), 4)
    return round(max(0.005 * qty, 1.0), 4)


def fill_commission(inst: Instrument, filled_before: float, avg_before: float, quantity: float,
                    price: float) -> float:
    """Commission for one execution of an order that may fill in parts: IB applies its minimums
    and maximums per order, so each part pays what the whole order so far costs less what the
    earlier parts paid (a 20,000 EUR order in five parts pays the $2 minimum once)."""
    qty = abs(quantity)
    total_qty = filled_before + qty
    avg = (avg_before * filled_before + price * qty) / total_qty if total_qty else price
    paid = commission(inst, filled_before, avg_before) if filled_before > 0 else 0.0
    return round(max(commission(inst, total_qty, avg) - paid, 0.0), 4)
