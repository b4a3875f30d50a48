"""The paper broker: validates, works and fills orders against the simulated market, books
executions into accounts and persists everything. No protocol code: the gateway's handlers
subscribe to its events and turn them into TWS messages."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...errors import SimError
from ..combos import (
    BAG_CONID,
    Combo,
    Leg,
    build_combo,
    combo_quote,
    fill_price,
    leg_fill_prices,
    legs_for_net,
    net_price,
)
from ..instruments import Instrument
from ..market import Quote
from .account import Account, Valuation
from .commissions import commission, fill_commission
from .orders import ORDER_TYPES, TIFS, Condition, Fill, SimOrder
from .store import StateStore

if TYPE_CHECKING:
    from ...server import Gateway

log = logging.getLogger("ibxl.sim.models.broker")

#: a limit this far through the market is refused, as TWS's precautionary price check does
PRICE_CHECK = 0.05
#: order types that wait at IB for a trigger (shown PreSubmitted until then)
HELD_TYPES = {"STP", "STP LMT", "TRAIL", "TRAIL LIMIT", "MIT", "LIT", "MOC", "LOC"}

Listener = Callable[[str, Any], None]


class Broker:
    """Orders, executions and accounts of one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.market = gateway.market
        self.universe = gateway.universe
        cfg = gateway.config
        self.store = StateStore(cfg.state_dir, reset=cfg.reset)
        self.valuation = Valuation(self.market, self.universe)
        self.listeners: list[Listener] = []
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, SimOrder] = {}
        self.fills: list[Fill] = []
        self._combos: dict[int, Combo] = {}
        self._load()
        self._pulse: int | None = None

    # ------------------------------------------------------------ state
    def _load(self) -> None:
        cfg = self.gateway.config
        for raw in self.store.all("accounts"):
            acct = Account.from_json(raw)
            self.accounts[acct.account_id] = acct
        for acct_id in cfg.accounts:
            if acct_id not in self.accounts:
                acct = Account(acct_id, cfg.base_currency, {cfg.base_currency: cfg.initial_cash})
                self.accounts[acct_id] = acct
                self.store.put("accounts", acct_id, acct.to_json())
        for raw in self.store.all("orders"):
            order = SimOrder.from_json(raw)
            if order.tif != "GTC" and not order.is_done:
                # DAY and IOC orders do not survive a restart of the session, as at IB
                order.status = "Cancelled"
                self.store.put("orders", order.order_id, order.to_json())
            self.orders[order.order_id] = order
        self.fills = [Fill(**raw) for raw in self.store.all("executions")]
        self.fills.sort(key=lambda f: f.time)
        self._next_id = max([o.order_id for o in self.orders.values()] + [self.store.get("meta", "next_id", 0)]) + 1
        self._perm_ids = itertools.count(self.store.get("meta", "perm_id", 1_000_000) + 1)
        self._exec_seq = itertools.count(len(self.fills) + 1)

    def start(self) -> None:
        """Begin working orders on the gateway's pulse."""
        self._pulse = self.gateway.pulse.add(self.on_pulse)

    def stop(self) -> None:
        """Stop working orders and close the store."""
        if self._pulse is not None:
            self.gateway.pulse.remove(self._pulse)
        self.store.close()

    def next_order_id(self) -> int:
        """The next order id no order has used."""
        return self._next_id

    def _emit(self, kind: str, payload: Any) -> None:
        for fn in list(self.listeners):
            try:
                fn(kind, payload)
            except Exception:
                log.exception("broker listener failed")

    def _save(self, order: SimOrder) -> None:
        self.store.put("orders", order.order_id, order.to_json())

    # ------------------------------------------------------------ queries
    def account(self, account_id: str = "", req_id: int = -1) -> Account:
        """An account by id (the first one when empty); unknown ids get TWS's error 321."""
        if not account_id:
            return next(iter(self.accounts.values()))
        acct = self.accounts.get(account_id)
        if acct is None:
            raise SimError(321, f"cause - Invalid account code {account_id!r} (this login manages "
                                f"{', '.join(self.accounts)})", req_id=req_id)
        return acct

    def open_orders(self, client_id: int | None = None) -> list[SimOrder]:
        """Working orders, of one client or of all."""
        return [o for o in self.orders.values() if not o.is_done and not o.what_if
                and (client_id is None or o.client_id == client_id)]

    def combo_of(self, order: SimOrder) -> Combo | None:
        """The resolved combo of a combination (BAG) order, None for a single contract; unknown or
        invalid legs raise TWS's error 321."""
        if not order.combo_legs:
            return None
        combo = self._combos.get(order.order_id)
        legs = [Leg(**leg) for leg in order.combo_legs]
        if combo is None or list(combo.legs) != legs:
            combo = build_combo(self.universe.get, legs, req_id=order.order_id)
            self._combos[order.order_id] = combo
        return combo

    def instrument_of(self, order: SimOrder) -> Instrument | None:
        """What an order trades: its instrument, or the BAG contract of a combo order."""
        if order.combo_legs:
            try:
                combo = self.combo_of(order)
            except SimError:
                return None
            return combo.instrument() if combo else None
        return self.universe.get(order.con_id)

    def _quote(self, order: SimOrder, inst: Instrument, now: float | None = None) -> Quote:
        combo = self.combo_of(order)
        return combo_quote(self.market, combo, now) if combo else self.market.quote(inst, now)

    def values(self, account_id: str = "") -> dict[str, float]:
        """The account's figures (net liquidation, margins, P&L...) marked to the market now."""
        return self.valuation.values(self.account(account_id))

    # ------------------------------------------------------------ orders
    def place(self, order: SimOrder, inst: Instrument) -> dict[str, float] | None:
        """Accept a new order or a modification; returns the what-if figures for whatIf orders.

        Raises :class:`SimError` with TWS's code for anything TWS would refuse.
        """
        cfg = self.gateway.config
        if cfg.read_only:
            raise SimError(321, "The API interface is currently in Read-Only mode.", req_id=order.order_id)
        # orders are routed by order.account: an account this login does not manage is refused first
        self.account(order.account, req_id=order.order_id)
        combo = self.combo_of(order)
        if combo is not None:
            order.con_id = BAG_CONID
            if order.leg_prices and order.lmt_price is None and all(p is not None for p in order.leg_prices):
                if len(order.leg_prices) != len(combo.legs):
                    raise SimError(201, f"{len(order.leg_prices)} leg prices for {len(combo.legs)} legs; give one "
                                        "price per leg or a limit price for the combo", req_id=order.order_id)
                # per-leg limits: the combo's limit is their net
                order.lmt_price = net_price(combo, [float(p) for p in order.leg_prices])  # type: ignore[arg-type]
        self._validate(order, inst)
        existing = self.orders.get(order.order_id)
        if existing is not None and not existing.what_if:
            self._modify(existing, order, inst)
            return None
        if order.order_id < self._next_id and existing is None and order.order_id in self._used_ids():
            raise SimError(103, f"{order.order_id}", req_id=order.order_id)
        if order.what_if:
            return self.what_if(order, inst)
        self._check_price(order, inst)
        self._check_buying_power(order, inst)
        order.perm_id = next(self._perm_ids)
        order.created = self.gateway.clock.time()
        self._next_id = max(self._next_id, order.order_id + 1)
        self.store.put_many([("orders", order.order_id, order.to_json()), ("meta", "next_id", self._next_id),
                             ("meta", "perm_id", order.perm_id)])
        self.orders[order.order_id] = order
        self._set_status(order, "PendingSubmit")
        if order.oca_group and order.oca_type in (0, 1) and any(
                o is not order and o.oca_group == order.oca_group and o.account == order.account
                and o.status == "Filled" for o in self.orders.values()):
            # joining a one-cancels-all group that has already filled: cancelled at once, as at IB
            self._set_status(order, "Cancelled")
            return None
        self._activate_group(order)
        return None

    def _used_ids(self) -> set[int]:
        return set(self.orders)

    def _validate(self, order: SimOrder, inst: Instrument) -> None:
        oid = order.order_id
        if order.action not in ("BUY", "SELL"):
            raise SimError(201, f"action must be BUY or SELL, not {order.action!r}", req_id=oid)
        if order.quantity <= 0:
            raise SimError(201, f"the order quantity must be positive (got "
                                f"{order.quantity:g})", req_id=oid)
        if order.order_type not in ORDER_TYPES:
            raise SimError(201, f"order type {order.order_type!r} is not supported; use "
                                f"one of {', '.join(ORDER_TYPES)}", req_id=oid)
        if order.tif not in TIFS:
            raise SimError(201, f"time in force {order.tif!r}; use one of "
                                f"{', '.join(TIFS)}", req_id=oid)
        if inst.secType == "IND":
            raise SimError(201, f"{inst.symbol} is an index and cannot be traded; "
                                "trade its futures or options", req_id=oid)
        needs_limit = order.order_type in ("LMT", "STP LMT", "LIT", "LOC", "TRAIL LIMIT")
        # a combo's net price may be zero or negative (a credit), so only a missing limit is refused
        if needs_limit and (order.lmt_price is None if order.combo_legs else not order.lmt_price):
            raise SimError(201, f"a {order.order_type} order needs a limit price",
                           req_id=oid)
        if order.order_type in ("STP", "STP LMT", "MIT", "LIT") and not order.aux_price:
            raise SimError(201, f"a {order.order_type} order needs a stop/trigger "
                                "price (auxPrice)", req_id=oid)
        if order.order_type in ("TRAIL", "TRAIL LIMIT") and not (order.aux_price or order.trailing_percent):
            raise SimError(201, "a trailing order needs a trailing amount (auxPrice) "
                                "or trailingPercent", req_id=oid)
        tick = inst.minTick or 0.01
        for price in (order.lmt_price, order.aux_price if order.order_type not in ("TRAIL", "REL") else None):
            if price and abs(round(price / tick) * tick - price) > 1e-9 and not inst.is_option:
                raise SimError(110, f"{price:g} is not a multiple of the minimum tick {tick:g}", req_id=oid)
        if self.gateway.calendar.mode == "exchange" and order.tif in ("DAY", "IOC", "FOK") and not order.outside_rth:
            now = datetime.fromtimestamp(self.gateway.clock.time(), UTC)
            if not self.gateway.calendar.is_open(inst.calendar, now, rth=True):
                raise SimError(201, f"the market for {inst.symbol} is closed; set "
                                    "outsideRth for extended hours or use a GTC order", req_id=oid)

    def _check_price(self, order: SimOrder, inst: Instrument) -> None:
        if order.order_type != "LMT" or not order.lmt_price:
            return
        q = self._quote(order, inst)
        ref = q.ask if order.action == "BUY" else q.bid
        combo = self.combo_of(order)
        # a combo's net may be near zero or negative: measure it against the legs' gross premium
        scale = sum(leg.ratio * self.market.quote(x).mid for leg, x in combo.pairs()) if combo else ref
        if scale <= 0:
            return
        through = (order.lmt_price - ref) / scale * (1 if order.action == "BUY" else -1)
        if through > PRICE_CHECK:
            raise SimError(201, f"the limit price {order.lmt_price:g} is more than "
                                f"{PRICE_CHECK:.0%} through the market ({ref:g}) (precautionary price check)",
                           req_id=order.order_id)

    def _check_buying_power(self, order: SimOrder, inst: Instrument) -> None:
        after = self._hypothetical(order, inst)
        short_of_cash = after["TotalCashValue"] < 0 and inst.secType == "CRYPTO"
        if after["InitMarginReq"] > after["EquityWithLoanValue"] or short_of_cash:
            raise SimError(201, f"Your order is not accepted because your Equity with Loan "
                                f"Value of [{after['EquityWithLoanValue']:,.2f} USD] is insufficient to cover the "
                                f"Initial Margin requirement of [{after['InitMarginReq']:,.2f} USD]",
                           req_id=order.order_id)

    def _hypothetical(self, order: SimOrder, inst: Instrument) -> dict[str, float]:
        acct = self.account(order.account)
        clone = Account.from_json(acct.to_json())
        for leg_inst, qty, price in self._leg_trades(order, inst):
            fee = commission(leg_inst, abs(qty), price)
            clone.apply_fill(leg_inst, qty, price, fee, self._day())
        return self.valuation.values(clone)

    def _leg_trades(self, order: SimOrder, inst: Instrument) -> list[tuple[Instrument, float, float]]:
        """(instrument, signed quantity, price) of what the whole order would trade: one row, or
        one per leg of a combo at the prices the combo would fill at now."""
        combo = self.combo_of(order)
        if combo is None:
            return [(inst, order.sign * order.quantity, order.lmt_price or self.market.price(inst))]
        prices = leg_fill_prices(self.market, combo, order.action == "BUY")
        return [(leg_inst, order.sign * leg.sign * leg.ratio * order.quantity, px)
                for (leg, leg_inst), px in zip(combo.pairs(), prices, strict=True)]

    def what_if(self, order: SimOrder, inst: Instrument) -> dict[str, float]:
        """Margin and commission impact of an order, without placing it."""
        before = self.values(order.account)
        after = self._hypothetical(order, inst)
        fee = sum(commission(leg_inst, abs(qty), px) for leg_inst, qty, px in self._leg_trades(order, inst))
        return {
            "initMarginBefore": before["InitMarginReq"], "maintMarginBefore": before["MaintMarginReq"],
            "equityWithLoanBefore": before["EquityWithLoanValue"],
            "initMarginChange": after["InitMarginReq"] - before["InitMarginReq"],
            "maintMarginChange": after["MaintMarginReq"] - before["MaintMarginReq"],
            "equityWithLoanChange": after["EquityWithLoanValue"] - before["EquityWithLoanValue"],
            "initMarginAfter": after["InitMarginReq"], "maintMarginAfter": after["MaintMarginReq"],
            "equityWithLoanAfter": after["EquityWithLoanValue"], "commission": fee,
        }

    def _modify(self, existing: SimOrder, new: SimOrder, inst: Instrument) -> None:
        if existing.status == "Filled":
            raise SimError(104, f"order {existing.order_id}", req_id=existing.order_id)
        if existing.is_done:
            raise SimError(103, f"{existing.order_id} (it is {existing.status})", req_id=existing.order_id)
        if existing.con_id != new.con_id or existing.action != new.action or existing.combo_legs != new.combo_legs:
            raise SimError(105, "contract and action cannot change", req_id=existing.order_id)
        if new.quantity < existing.filled:
            raise SimError(201, "the new quantity is below the quantity already filled",
                           req_id=existing.order_id)
        for name in ("quantity", "order_type", "lmt_price", "aux_price", "tif", "outside_rth", "good_till_date",
                     "trailing_percent", "display_size", "conditions", "transmit", "order_ref", "oca_group",
                     "leg_prices"):
            setattr(existing, name, getattr(new, name))
        existing.triggered = False if existing.order_type in HELD_TYPES else existing.triggered
        self._save(existing)
        self._emit("order", existing)
        self._activate_group(existing)
        return None

    def cancel(self, order_id: int, client_id: int | None = None) -> SimOrder:
        """Cancel a working order (and its bracket children)."""
        order = self.orders.get(order_id)
        if order is None or (client_id is not None and client_id != 0 and order.client_id != client_id):
            raise SimError(10147, f"OrderId {order_id} that needs to be cancelled is not found.", req_id=order_id)
        if order.is_done:
            raise SimError(10148, f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: "
                                  f"{order.status}.", req_id=order_id)
        self._set_status(order, "Cancelled")
        for child in self._children(order):
            if not child.is_done:
                self._set_status(child, "Cancelled")
        return order

    def global_cancel(self) -> int:
        """Cancel every working order of every client; returns how many."""
        working = self.open_orders()
        for order in working:
            self._set_status(order, "Cancelled")
        return len(working)

    def _children(self, order: SimOrder) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.parent_id == order.order_id]

    def _set_status(self, order: SimOrder, status: str) -> None:
        order.status = status
        self._save(order)
        self._emit("order", order)

    def _activate_group(self, order: SimOrder) -> None:
        """Move transmitted orders from PendingSubmit to working; a transmitting child releases its parent."""
        group = [order]
        if order.parent_id and order.parent_id in self.orders:
            parent = self.orders[order.parent_id]
            group = [parent, *self._children(parent)]
        elif order.transmit:
            group = [order, *self._children(order)]
        if not any(o.transmit for o in group):
            for o in group:
                if o.status == "PendingSubmit":
                    self._set_status(o, "PreSubmitted")
            return
        for o in group:
            if o.is_done:
                continue
            above = self.orders.get(o.parent_id) if o.parent_id else None
            waiting = above is not None and above.status != "Filled"
            held = waiting or o.order_type in HELD_TYPES or bool(o.conditions) and not o.triggered
            status = "PreSubmitted" if held else "Submitted"
            if o.status != status:
                self._set_status(o, status)
        self.on_pulse(self.gateway.clock.time(), only=[o for o in group if not o.is_done])

    # ------------------------------------------------------------ working orders
    def _day(self) -> str:
        return datetime.fromtimestamp(self.gateway.clock.time(), UTC).strftime("%Y%m%d")

    def on_pulse(self, now: float, only: list[SimOrder] | None = None) -> None:
        """Trigger, fill or expire working orders against the market at ``now``."""
        if only is None and now - getattr(self, "_last_expiry_check", 0.0) >= 30.0:
            self._last_expiry_check = now
            try:
                self.settle_expired_options(now)
            except Exception:  # never let settlement stop the working of orders
                log.exception("settling expired options failed")
        for order in list(only if only is not None else self.orders.values()):
            if order.is_done or order.what_if or order.status in ("PendingSubmit",):
                continue
            parent = self.orders.get(order.parent_id) if order.parent_id else None
            if parent is not None and parent.status != "Filled":
                continue
            if not any(o.transmit for o in [order, *(self._children(parent) if parent else self._children(order))]):
                continue
            inst = self.instrument_of(order)
            if inst is None:
                continue
            try:
                self._work(order, inst, now)
            except Exception:
                log.exception("working order %s failed", order.order_id)

    def settle_expired_options(self, now: float) -> None:
        """Exercise in-the-money options at expiry into their underlying; let the others lapse."""
        for acct in self.accounts.values():
            for pos in list(acct.positions.values()):
                inst = self.universe.get(pos.con_id)
                if inst is None or not inst.is_option or pos.quantity == 0:
                    continue
                if self.market.years_to_expiry(inst, now) > 0:
                    continue
                und = self.universe.get(inst.underConId)
                if und is None:
                    continue
                spot = self.market.price(und, now)
                itm = spot - inst.strike if inst.right == "C" else inst.strike - spot
                day = self._day()
                qty = pos.quantity
                # the option leaves the book at its intrinsic value (zero when out of the money)
                acct.apply_fill(inst, -qty, max(itm, 0.0), 0.0, day)
                if itm > 0.01 and und.secType == "STK":
                    shares = qty * inst.multiplier_value * (1 if inst.right == "C" else -1)
                    # shares change hands at the strike: booked as closing the option at its intrinsic value
                    # and trading the shares at spot, which nets to the strike in cash
                    acct.apply_fill(und, shares, spot, 0.0, day)
                log.info("option %s settled at expiry (%s)", inst.localSymbol, "exercised" if itm > 0 else "lapsed")
                self.store.put("accounts", acct.account_id, acct.to_json())
                self._emit("account", acct.account_id)

    def _work(self, order: SimOrder, inst: Instrument, now: float) -> None:
        if order.tif == "GTD" and order.good_till_date and _parse_time(order.good_till_date) <= now:
            self._set_status(order, "Cancelled")
            return
        q = self._quote(order, inst, now)
        if order.conditions and not order.triggered:
            if not self._conditions_met(order, now):
                return
            if order.conditions_cancel:
                self._set_status(order, "Cancelled")
                return
            order.triggered = True
            self._set_status(order, "Submitted" if order.order_type not in HELD_TYPES else "PreSubmitted")
        limit = self._effective_limit(order, inst, q)
        if limit is None:
            return  # a stop or touch trigger not reached yet
        if order.status == "PreSubmitted":
            self._set_status(order, "Submitted")
        price = q.ask if order.action == "BUY" else q.bid
        available = q.ask_size if order.action == "BUY" else q.bid_size
        if order.combo_legs and limit not in (float("inf"), 0.0) and order.order_type != "MKT":
            at = fill_price(q, limit, order.action == "BUY")
            if at is None:
                if order.tif in ("IOC", "FOK"):
                    self._set_status(order, "Cancelled")
                return
            price = limit = at
        elif price <= 0 and not order.combo_legs:
            return
        if limit != float("inf") and (price > limit if order.action == "BUY" else price < limit):
            if order.tif in ("IOC", "FOK"):
                self._set_status(order, "Cancelled")
            return
        qty = order.remaining
        if order.tif == "FOK" and qty > available:
            self._set_status(order, "Cancelled")
            return
        fill_qty = min(qty, max(available, 1.0))
        self._fill(order, inst, fill_qty, price, now)
        if order.tif == "IOC" and not order.is_done:
            self._set_status(order, "Cancelled")

    def _effective_limit(self, order: SimOrder, inst: Instrument, q: Any) -> float | None:
        """The price the order may trade at now: inf for market orders, None while untriggered."""
        t, buy = order.order_type, order.action == "BUY"
        last = q.last or q.mid
        if t == "MKT":
            return float("inf") if buy else 0.0
        if t in ("LMT",):
            return order.lmt_price
        if t == "REL":
            peg = (q.bid + (order.aux_price or 0)) if buy else (q.ask - (order.aux_price or 0))
            cap = order.lmt_price
            return min(peg, cap) if buy and cap else (max(peg, cap) if cap else peg)
        if t in ("MOC", "LOC"):
            return None  # they wait for the close (see README: simplified)
        if t in ("TRAIL", "TRAIL LIMIT"):
            dist = order.aux_price if order.aux_price else last * (order.trailing_percent or 0) / 100
            stop = last + dist if buy else last - dist
            if order.trail_stop_price is None:
                order.trail_stop_price = stop
            order.trail_stop_price = min(order.trail_stop_price, stop) if buy else max(order.trail_stop_price, stop)
            hit = last >= order.trail_stop_price if buy else last <= order.trail_stop_price
            if not (hit or order.triggered):
                return None
            order.triggered = True
            return (order.lmt_price if t == "TRAIL LIMIT" else (float("inf") if buy else 0.0))
        trigger = order.aux_price or 0.0
        if t in ("STP", "STP LMT"):
            hit = last >= trigger if buy else last <= trigger
        else:  # MIT, LIT: touch from the other side
            hit = last <= trigger if buy else last >= trigger
        if not (hit or order.triggered):
            return None
        order.triggered = True
        if t in ("STP LMT", "LIT"):
            return order.lmt_price
        return float("inf") if buy else 0.0

    def _conditions_met(self, order: SimOrder, now: float) -> bool:
        result: bool | None = None
        joiner = "a"
        for cond in order.conditions:
            ok = self._condition(cond, order, now)
            result = ok if result is None else (result and ok if joiner == "a" else result or ok)
            joiner = cond.conjunction
        return bool(result)

    def _condition(self, c: Condition, order: SimOrder, now: float) -> bool:
        def cmp(value: float, target: float) -> bool:
            return value >= target if c.is_more else value <= target

        if c.kind == 1:
            inst = self.universe.get(c.con_id)
            return inst is not None and cmp(self.market.quote(inst, now).last, c.value)
        if c.kind == 3:
            return cmp(now, _parse_time(c.time))
        if c.kind == 4:
            v = self.values(order.account)
            cushion = v["Cushion"] * 100
            return cmp(cushion, c.value)
        if c.kind == 5:
            return any(getattr(self.universe.get(f.con_id), "symbol", None) == c.symbol
                       for f in self.fills if f.time >= order.created)
        if c.kind == 6:
            inst = self.universe.get(c.con_id)
            return inst is not None and cmp(self.market.quote(inst, now).volume, c.value)
        if c.kind == 7:
            inst = self.universe.get(c.con_id)
            if inst is None:
                return False
            q = self.market.quote(inst, now)
            return bool(q.close) and cmp((q.last - q.close) / q.close * 100, c.value)
        return False

    def _fill(self, order: SimOrder, inst: Instrument, qty: float, price: float, now: float) -> None:
        combo = self.combo_of(order)
        if combo is not None:
            self._fill_combo(order, combo, qty, price, now)
            return
        acct = self.account(order.account)
        fee = fill_commission(inst, order.filled, order.avg_fill_price, qty, price)
        realized = acct.apply_fill(inst, order.sign * qty, price, fee, self._day())
        self._book_fill(order, qty, price)
        fill = Fill(self._exec_id(order), order.order_id, order.client_id,
                    order.perm_id, acct.account_id, inst.conId, "BOT" if order.sign > 0 else "SLD", qty, price, now,
                    order.filled, order.avg_fill_price, order.order_ref, fee, inst.currency,
                    realized if realized else 0.0, inst.primaryExchange or inst.exchange)
        self._commit_fills(order, acct, [fill], qty)

    def _fill_combo(self, order: SimOrder, combo: Combo, qty: float, net: float, now: float) -> None:
        """Fill ``qty`` combo units at ``net``: every leg trades together, one execution (and
        commission) per leg, at leg prices that add up to the net."""
        acct = self.account(order.account)
        prices = legs_for_net(self.market, combo, order.action == "BUY", net, now)
        self._book_fill(order, qty, net_price(combo, prices))
        fills = []
        for (leg, leg_inst), px in zip(combo.pairs(), prices, strict=True):
            signed = order.sign * leg.sign * leg.ratio * qty
            fee = commission(leg_inst, abs(signed), px)
            realized = acct.apply_fill(leg_inst, signed, px, fee, self._day())
            fills.append(Fill(self._exec_id(order), order.order_id,
                              order.client_id, order.perm_id, acct.account_id, leg_inst.conId,
                              "BOT" if signed > 0 else "SLD", abs(signed), px, now, abs(signed), px, order.order_ref,
                              fee, leg_inst.currency, realized if realized else 0.0,
                              leg.exchange if leg.exchange != "SMART" else (leg_inst.primaryExchange
                                                                            or leg_inst.exchange)))
        self._commit_fills(order, acct, fills, qty)

    @staticmethod
    def _book_fill(order: SimOrder, qty: float, price: float) -> None:
        """Add ``qty`` at ``price`` to the order's filled quantity, average and last price."""
        order.avg_fill_price = (order.avg_fill_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.last_fill_price = price
        if order.remaining <= 1e-9:
            order.status = "Filled"

    def _exec_id(self, order: SimOrder) -> str:
        """The next execution id, in TWS's ``0000<permId>.<sequence>.01.01`` shape."""
        return f"0000{order.perm_id:08x}.{next(self._exec_seq):08x}.01.01"

    def _commit_fills(self, order: SimOrder, acct: Account, fills: list[Fill], qty: float) -> None:
        """Store an order's new executions, then tell clients, then release what the fill unblocks."""
        # every fill is on disk before any client hears of any of them
        self.store.put_many([("orders", order.order_id, order.to_json()),
                             *(("executions", f.exec_id, f.to_json()) for f in fills),
                             ("accounts", acct.account_id, acct.to_json())])
        self.fills.extend(fills)
        self._emit("order", order)
        for f in fills:
            self._emit("execution", f)
        self._emit("account", acct.account_id)
        if order.status == "Filled":
            self._after_fill(order, qty)
        elif order.oca_group:
            self._oca(order, qty)

    def _after_fill(self, order: SimOrder, qty: float) -> None:
        # a filled parent releases its children; a filled child cancels its siblings
        children = self._children(order)
        if children:
            for child in children:
                if not child.is_done:
                    held = child.order_type in HELD_TYPES or bool(child.conditions)
                    self._set_status(child, "PreSubmitted" if held else "Submitted")
            self.on_pulse(self.gateway.clock.time(), only=children)
        if order.parent_id:
            for sib in self._children(self.orders[order.parent_id]):
                if sib is not order and not sib.is_done:
                    self._set_status(sib, "Cancelled")
        self._oca(order, qty)

    def _oca(self, order: SimOrder, qty: float) -> None:
        if not order.oca_group:
            return
        for other in self.orders.values():
            if other is order or other.is_done or other.oca_group != order.oca_group:
                continue
            if order.oca_type in (2, 3):
                other.quantity -= qty
                if other.remaining <= 1e-9:
                    self._set_status(other, "Cancelled")
                else:
                    self._save(other)
                    self._emit("order", other)
            else:
                self._set_status(other, "Cancelled")


def _parse_time(text: str) -> float:
    """Epoch seconds of 'yyyymmdd hh:mm:ss [zone]' or 'yyyymmdd-hh:mm:ss' (UTC)."""
    from ..history import parse_end

    return parse_end(text, float("inf"))
