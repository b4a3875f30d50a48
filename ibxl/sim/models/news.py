"""Synthetic news tied to each contract's simulated price moves: providers, dated headlines,
article bodies, and live headlines for subscribers. Deterministic per seed. No protocol code.

Every headline's article id encodes where it came from, so an article can be written again from
its id alone (``BRFG$a1b2c3.1e61.0`` is contract 0xa1b2c3, day 0x1e61 after the market's epoch,
item 0; ``BRFG$a1b2c3.m1b2c3d4`` is a flash on the minute 0x1b2c3d4 since 1970).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from .instruments import Instrument
from .market import EPOCH, HORIZON_DAYS, Market

if TYPE_CHECKING:
    from ..clock import Clock
    from ..pulse import Pulse

PROVIDERS = (("BRFG", "Briefing.com General Market Columns"), ("BRFUPDN", "Briefing.com Analyst Actions"),
             ("DJNL", "Dow Jones Newsletters"))
PROVIDER_CODES = tuple(code for code, _ in PROVIDERS)
#: the broad-tape feed of BRFG (contract secType NEWS, exchange BRFG, symbol BRFG:BRFG_ALL)
TAPE = "BRFG:BRFG_ALL"
#: the most headlines reqHistoricalNews returns
MAX_RESULTS = 300
#: how many days back a headline search goes (keeps one request from holding the gateway's loop)
MAX_LOOKBACK_DAYS = 730
#: live flashes are considered on these minute boundaries
FLASH_MINUTES = 15
_DAY = 86400
_EPOCH_TS = datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC).timestamp()

_FIRMS = ("Northbridge Securities", "Harbor & Vale", "Castlegate Research", "Meridian Capital Markets",
          "Pinecrest Partners", "Ashford Lane Equity Research")
_UP = ("{name} shares jump {pct:.1f}% as {reason}", "{sym} rallies {pct:.1f}%; {reason}",
       "{name} climbs {pct:.1f}% after {reason}", "Buyers step in: {sym} up {pct:.1f}% as {reason}")
_DOWN = ("{name} shares slide {pct:.1f}% as {reason}", "{sym} falls {pct:.1f}%; {reason}",
         "{name} drops {pct:.1f}% after {reason}", "Sellers in control: {sym} down {pct:.1f}% as {reason}")
_REASONS_UP = ("quarterly results beat estimates", "guidance is raised", "a new product draws strong demand",
               "the board approves a larger buyback", "sector peers rally", "a large customer win is announced")
_REASONS_DOWN = ("results miss estimates", "guidance is cut", "a regulatory inquiry is disclosed",
                 "margins come under pressure", "sector peers retreat", "a large customer is lost")
_COLUMN = ("{sym} trades {dir} {pct:.1f}% at ${price:.2f} in today's session",
           "Stocks to watch: {sym} {dir} {pct:.1f}% near ${price:.2f}", "{name}: session update, {dir} {pct:.1f}%")
_QUIET = ("{name} to present at industry conference", "{name} declares regular quarterly dividend",
          "{sym}: options activity picks up ahead of earnings", "{name} files quarterly report",
          "Newsletter: what {sym}'s recent range says about positioning", "{name} names new chief financial officer")


@dataclass(frozen=True)
class Headline:
    """One news item: when, which provider, its article id, the text, the contract and the price move
    (percent) it reports on."""

    time: float
    provider: str
    article_id: str
    headline: str
    con_id: int
    move_pct: float
    kind: str = "day"  # day (dated items), flash (live moves) or published (posted by an operator/test)
    detail: str = ""  # the catalyst, analyst firm or column the article expands on
    price: float = 0.0


@dataclass
class _Subscriber:
    con_id: int | None  # None: the broad tape (every contract)
    providers: frozenset[str]
    callback: Callable[[Headline], None]
    last: float


class NewsRoom:
    """Headlines and articles derived from the market's moves, and live headlines for subscribers."""

    def __init__(self, market: Market, seed: int, clock: Clock | None = None, pulse: Pulse | None = None) -> None:
        self.market = market
        self.seed = seed
        self.clock = clock or market.clock
        self.pulse = pulse
        self._days: OrderedDict[tuple[int, int], list[Headline]] = OrderedDict()
        self._published: OrderedDict[str, Headline] = OrderedDict()
        self._subs: dict[int, _Subscriber] = {}
        self._next_sub = 0
        self._pulse_handle: int | None = None

    # ------------------------------------------------------------ dated headlines
    def headlines(self, inst: Instrument, start: float, end: float, providers: list[str] | tuple[str, ...],
                  limit: int) -> list[Headline]:
        """A contract's headlines from the given providers between two moments, newest first
        (at most :data:`MAX_LOOKBACK_DAYS` days before ``end``)."""
        wanted = set(providers or PROVIDER_CODES)
        out: list[Headline] = []
        day = _day_index(end)
        first = max(_day_index(max(start, _EPOCH_TS)), 1, day - MAX_LOOKBACK_DAYS)
        while day >= first and len(out) < limit:
            for h in reversed(self.day_items(inst, day)):
                if h.provider in wanted and start <= h.time <= end:
                    out.append(h)
            day -= 1
        out += [h for h in self._published.values()
                if h.con_id == inst.conId and h.provider in wanted and start <= h.time <= end]
        out.sort(key=lambda h: h.time, reverse=True)
        return out[:limit]

    def day_items(self, inst: Instrument, day: int) -> list[Headline]:
        """Every headline of one contract on one UTC day (days after the market's epoch), oldest first.
        A day always gets a market column; bigger moves also get an analyst action and a story."""
        key = (inst.conId, day)
        hit = self._days.get(key)
        if hit is not None:
            self._days.move_to_end(key)
            return hit
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, inst.conId & 0xFFFFFFFF, day, 5])
        sigma = inst.volatility / math.sqrt(365.0) * 100
        move = self._day_move(inst, day)
        base = _EPOCH_TS + day * _DAY
        items: list[Headline] = []

        def add(provider: str, at: float, kind_text: Callable[[float, float], tuple[str, str]]) -> None:
            move_at, price = self._move_at(inst, base, at)
            text, detail = kind_text(move_at, price)
            items.append(Headline(at, provider, f"{provider}${inst.conId:x}.{day:x}.{len(items)}", text, inst.conId,
                                  move_at, "day", detail, price))

        names = _names(inst)
        if abs(move) > 1.5 * sigma:  # an analyst action before the open sets up a big day
            firm = _FIRMS[int(rng.integers(0, len(_FIRMS)))]
            at = base + 11.5 * 3600 + float(rng.integers(0, 90 * 60))

            def action(move_at: float, price: float) -> tuple[str, str]:
                target = price * (1.18 if move > 0 else 0.85)
                verb, rating, was = ("upgrades", "Buy", "Hold") if move > 0 else ("downgrades", "Sell", "Hold")
                return f"{firm} {verb} {names['sym']} to {rating} from {was}; target ${target:.0f}", firm

            add("BRFUPDN", at, action)
        column_at = base + 14.5 * 3600 + float(rng.integers(0, 5 * 3600))

        def column(move_at: float, price: float) -> tuple[str, str]:
            fmt = dict(names, pct=abs(move_at), price=price, dir="up" if move_at >= 0 else "down")
            template = _COLUMN[int(rng.integers(0, len(_COLUMN)))]
            if abs(move_at) < 0.05:
                template = "{sym} little changed at ${price:.2f} in today's session"
            return template.format(**fmt), "column"

        add("BRFG", column_at, column)
        if abs(move) > 2.5 * sigma:  # the story behind a big move
            reason_pool = _REASONS_UP if move > 0 else _REASONS_DOWN
            reason = reason_pool[int(rng.integers(0, len(reason_pool)))]
            at = base + 19.5 * 3600 + float(rng.integers(0, 30 * 60))

            def story(move_at: float, price: float) -> tuple[str, str]:
                pool = _UP if move_at >= 0 else _DOWN
                fmt = dict(names, pct=abs(move_at), reason=reason)
                return pool[int(rng.integers(0, len(pool)))].format(**fmt), reason

            add("BRFG", at, story)
        if rng.random() < 0.6:
            at = base + 12 * 3600 + float(rng.integers(0, 9 * 3600))
            quiet = _QUIET[int(rng.integers(0, len(_QUIET)))]
            add("DJNL", at, lambda move_at, price: (quiet.format(**names), "newsletter"))
        items.sort(key=lambda h: h.time)
        if len(self._days) > 4096:  # a few months of the whole universe
            self._days.popitem(last=False)
        self._days[key] = items
        return items

    def _day_move(self, inst: Instrument, day: int) -> float:
        """The contract's move over one UTC day in percent, from the market's daily path."""
        path = self.market.daily_log_path(self.market._path_owner(inst))  # noqa: SLF001 - the same path it quotes
        i = min(max(day, 0), HORIZON_DAYS - 1)
        return (math.exp(path[i + 1] - path[i]) - 1) * 100

    def _move_at(self, inst: Instrument, day_start: float, at: float) -> tuple[float, float]:
        """Percent move since the start of the day and the price, at a moment (what a headline reports)."""
        p0 = self.market.price(inst, day_start)
        p1 = self.market.price(inst, at)
        return ((p1 / p0 - 1) * 100 if p0 else 0.0), p1

    # ------------------------------------------------------------ flashes and published items
    def flash(self, inst: Instrument, minute: int) -> Headline | None:
        """A live flash when the last hour's move up to a minute boundary is large for the contract
        (about two hourly standard deviations); None otherwise."""
        at = minute * 60.0
        p0, p1 = self.market.price(inst, at - 3600), self.market.price(inst, at)
        if not p0:
            return None
        move = (p1 / p0 - 1) * 100
        hourly_sigma = inst.volatility / math.sqrt(252 * 6.5) * 100
        if abs(move) < 2 * hourly_sigma:
            return None
        names = _names(inst)
        text = f"{names['sym']} {'jumps' if move > 0 else 'drops'} {abs(move):.1f}% in the past hour to ${p1:.2f}"
        return Headline(at, "BRFG", f"BRFG${inst.conId:x}.m{minute:x}", text, inst.conId, move, "flash",
                        "intraday move", p1)

    def publish(self, con_id: int, headline: str, provider: str = "BRFG", body: str = "") -> Headline:
        """Post a headline now (an operator's or a test's news); subscribers get it at once."""
        if provider not in PROVIDER_CODES:
            raise ValueError(f"unknown news provider {provider!r}; use one of {', '.join(PROVIDER_CODES)}")
        if not headline.strip():
            raise ValueError("a headline needs some text")
        now = self.clock.time()
        inst = self.market.universe.get(con_id)
        price = self.market.price(inst, now) if inst else 0.0
        h = Headline(now, provider, f"{provider}$p{len(self._published) + 1:x}", headline.strip(), con_id, 0.0,
                     "published", body, price)
        self._published[h.article_id] = h
        while len(self._published) > 1000:
            self._published.popitem(last=False)
        for sub in list(self._subs.values()):
            if (sub.con_id is None or sub.con_id == con_id) and provider in sub.providers:
                sub.callback(h)
        return h

    # ------------------------------------------------------------ articles
    def find(self, article_id: str) -> Headline | None:
        """The headline an article id names (None when the id is not one of this news room's)."""
        if article_id in self._published:
            return self._published[article_id]
        provider, _, rest = article_id.partition("$")
        parts = rest.split(".")
        if provider not in PROVIDER_CODES or len(parts) not in (2, 3):
            return None
        try:
            inst = self.market.universe.get(int(parts[0], 16))
            if inst is None:
                return None
            if len(parts) == 2 and parts[1].startswith("m"):
                h = self.flash(inst, int(parts[1][1:], 16))
            else:
                day, _item = int(parts[1], 16), int(parts[2])
                if not 1 <= day < HORIZON_DAYS:
                    return None
                h = next((x for x in self.day_items(inst, day) if x.article_id == article_id), None)
        except ValueError:
            return None
        if h is None or h.article_id != article_id or h.time > self.clock.time():
            return None  # no article for moments that have not happened yet
        return h

    def article(self, article_id: str, find: dict[str, Headline] | None = None) -> str | None:
        """The body of an article (None when the id is unknown): a few paragraphs consistent with
        its headline. ``find`` optionally maps ids to headlines seen elsewhere."""
        h = (find or {}).get(article_id) or self.find(article_id)
        return None if h is None else self.article_text(h)

    def article_text(self, h: Headline) -> str:
        """Write the article of a headline."""
        inst = self.market.universe.get(h.con_id)
        sym = inst.symbol if inst else f"contract {h.con_id}"
        name = _names(inst)["name"] if inst else sym
        when = datetime.fromtimestamp(h.time, UTC).strftime("%B %d, %Y %H:%M UTC")
        if h.kind == "published":
            return f"{h.headline}\n\n{when}\n\n{h.detail or h.headline}"
        direction = "higher" if h.move_pct > 0 else "lower" if h.move_pct < 0 else "flat"
        paras = [h.headline, f"{when} - {name} ({sym}) traded {direction}, "
                             f"{abs(h.move_pct):.2f}% {'up' if h.move_pct >= 0 else 'down'} on the day "
                             f"at ${h.price:.2f} when this item was written."]
        if h.provider == "BRFUPDN":
            upgrade = "upgrades" in h.headline
            why = ("improving demand and estimates that look too low" if upgrade
                   else "slowing demand and estimates that look too high")
            paras.append(f"{h.detail} changed its rating on {sym} before the open. The firm's note points to "
                         f"{why}, and its new price target implies a {'gain' if upgrade else 'decline'} "
                         "from here.")
        elif h.kind == "flash":
            paras.append(f"The move came over the past hour of trading in {sym}; no single catalyst was "
                         "reported at the time of writing.")
        elif h.detail not in ("column", "newsletter", ""):
            paras.append(f"The move followed news that {h.detail}. Traders said the reaction was "
                         f"{'broad-based across the sector' if 'sector' in h.detail else 'specific to the company'}.")
        elif h.detail == "newsletter":
            paras.append(f"This newsletter item covers {name} without a price-moving event; the stock's "
                         "recent range and options positioning are summarised for subscribers.")
        else:
            paras.append(f"Briefing's market column tracks {sym} among the session's notable movers, "
                         f"with the {'bid' if h.move_pct >= 0 else 'offer'} side in control so far.")
        if inst is not None and inst.industry:
            paras.append(f"{name} is part of the {inst.industry} industry.")
        paras.append("This article is synthetic: ibxl.sim writes it from the simulated market, for testing.")
        return "\n\n".join(paras)

    # ------------------------------------------------------------ live headlines
    def subscribe(self, inst: Instrument | None, callback: Callable[[Headline], None],
                  providers: tuple[str, ...] | list[str] | None = None) -> Callable[[], None]:
        """Live headlines: ``callback(headline)`` for each of the contract's headlines as its moment
        passes (dated items, flashes on big intraday moves, published items), until the returned
        function is called. ``inst=None`` is the broad tape: every stock's headlines.

        This is the hook for generic tick 292 (news ticks on reqMktData) and for the broad-tape
        contract (secType NEWS, exchange BRFG, symbol ``BRFG:BRFG_ALL``)."""
        wanted = frozenset(providers or PROVIDER_CODES)
        unknown = wanted - set(PROVIDER_CODES)
        if unknown:
            raise ValueError(f"unknown news provider(s) {', '.join(sorted(unknown))}; use {', '.join(PROVIDER_CODES)}")
        self._next_sub += 1
        key = self._next_sub
        self._subs[key] = _Subscriber(inst.conId if inst else None, wanted, callback, self.clock.time())
        if self._pulse_handle is None and self.pulse is not None:
            self._pulse_handle = self.pulse.add(self.tick)
        return lambda: self._unsubscribe(key)

    def _unsubscribe(self, key: int) -> None:
        self._subs.pop(key, None)
        if not self._subs and self._pulse_handle is not None and self.pulse is not None:
            self.pulse.remove(self._pulse_handle)
            self._pulse_handle = None

    def tick(self, now: float) -> None:
        """Deliver the headlines whose moment passed since the last call (called by the pulse)."""
        for sub in list(self._subs.values()):
            if now - sub.last < 1.0:  # a second's resolution is plenty for news
                continue
            last, sub.last = sub.last, now
            for h in self.between(sub.con_id, last, now):
                if h.provider in sub.providers:
                    sub.callback(h)

    def between(self, con_id: int | None, start: float, end: float) -> list[Headline]:
        """Dated items and flashes with ``start < time <= end`` for one contract (None: all stocks)."""
        insts = [self.market.universe.get(con_id)] if con_id is not None else [
            i for i in self.market.universe.underlyings() if i.secType == "STK"]
        out: list[Headline] = []
        for inst in insts:
            if inst is None:
                continue
            for day in range(_day_index(start), _day_index(end) + 1):
                out += [h for h in self.day_items(inst, day) if start < h.time <= end]
            first_minute = int(start // 60) + 1
            for minute in range(first_minute - first_minute % FLASH_MINUTES + FLASH_MINUTES * (
                    first_minute % FLASH_MINUTES > 0), int(end // 60) + 1, FLASH_MINUTES):
                h = self.flash(inst, minute)
                if h is not None:
                    out.append(h)
        out.sort(key=lambda h: h.time)
        return out

    def session_closed(self, session: object) -> None:
        """Nothing to do: subscriptions end through the stop functions their handlers keep."""


def _day_index(ts: float) -> int:
    return int((ts - _EPOCH_TS) // _DAY)


def _names(inst: Instrument) -> dict[str, str]:
    name = inst.longName.title() if inst.longName else inst.symbol
    return {"name": name, "sym": inst.symbol}
