"""Synthetic news: headlines tied to each contract's simulated price moves, article bodies,
providers, and the bulletin board. Deterministic per seed. No protocol code."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from .instruments import Instrument
from .market import EPOCH, HORIZON_DAYS, Market

PROVIDERS = (("BRFG", "Briefing.com General Market Columns"), ("BRFUPDN", "Briefing.com Analyst Actions"),
             ("DJNL", "Dow Jones Newsletters"))

_UP = ("{name} shares jump {pct:.1f}% as {reason}", "{sym} rallies {pct:.1f}%; {reason}",
       "{name} climbs after {reason}", "Buyers step in: {sym} up {pct:.1f}% on the day")
_DOWN = ("{name} shares slide {pct:.1f}% as {reason}", "{sym} falls {pct:.1f}%; {reason}",
         "{name} under pressure after {reason}", "Sellers in control: {sym} down {pct:.1f}% on the day")
_REASONS_UP = ("quarterly results beat estimates", "an analyst upgrade to Buy", "guidance is raised",
               "a new product launch draws strong demand", "a buyback is announced", "sector peers rally")
_REASONS_DOWN = ("results miss estimates", "an analyst downgrade to Sell", "guidance is cut",
                 "a regulatory probe is disclosed", "margins come under pressure", "sector peers retreat")
_QUIET = ("{name} to present at industry conference", "{name} declares regular dividend",
          "{sym}: options activity picks up ahead of earnings", "{name} files quarterly report")


@dataclass(frozen=True)
class Headline:
    """One news item."""

    time: float
    provider: str
    article_id: str
    headline: str
    con_id: int
    move_pct: float


class NewsRoom:
    """Headlines and articles derived from the market's daily moves."""

    def __init__(self, market: Market, seed: int) -> None:
        self.market = market
        self.seed = seed

    def _day_move(self, inst: Instrument, day: date) -> float:
        path = self.market.daily_log_path(self.market._path_owner(inst))  # noqa: SLF001
        i = min(max((day - EPOCH).days, 1), HORIZON_DAYS - 1)
        return (math.exp(path[i + 1] - path[i]) - 1) * 100

    def headlines(self, inst: Instrument, start: float, end: float, providers: list[str], limit: int) -> list[Headline]:
        """Headlines for a contract between two moments, newest first."""
        out: list[Headline] = []
        day = datetime.fromtimestamp(end, UTC).date()
        first = datetime.fromtimestamp(max(start, 0), UTC).date()
        while day >= first and len(out) < limit and day > EPOCH:
            move = self._day_move(inst, day)
            rng = np.random.default_rng([self.seed, inst.conId, (day - EPOCH).days, 5])
            count = 1 + int(abs(move) > 1.5) + int(abs(move) > 3.0)
            for k in range(count):
                provider = providers[int(rng.integers(0, len(providers)))] if providers else "BRFG"
                ts = datetime.combine(day, datetime.min.time(), UTC).timestamp() + 13.5 * 3600 + rng.integers(0, 7 * 3600)
                if not start <= ts <= end:
                    continue
                text = self._headline_text(inst, move, rng, k)
                aid = f"{provider}${hashlib.sha1(f'{inst.conId}:{day}:{k}'.encode()).hexdigest()[:8]}"
                out.append(Headline(float(ts), provider, aid, text, inst.conId, move))
            day -= timedelta(days=1)
        out.sort(key=lambda h: h.time, reverse=True)
        return out[:limit]

    def _headline_text(self, inst: Instrument, move: float, rng: np.random.Generator, k: int) -> str:
        name = inst.longName.title() if inst.longName else inst.symbol
        fmt = dict(name=name, sym=inst.symbol, pct=abs(move))
        if abs(move) < 1.0 or k == 2:
            return _QUIET[int(rng.integers(0, len(_QUIET)))].format(**fmt)
        templates, reasons = (_UP, _REASONS_UP) if move > 0 else (_DOWN, _REASONS_DOWN)
        fmt["reason"] = reasons[int(rng.integers(0, len(reasons)))]
        return templates[int(rng.integers(0, len(templates)))].format(**fmt)

    def article(self, article_id: str, find: dict[str, Headline]) -> str | None:
        """The body of an article (None when the id is unknown)."""
        h = find.get(article_id)
        if h is None:
            return None
        inst = self.market.universe.get(h.con_id)
        sym = inst.symbol if inst else "the stock"
        direction = "higher" if h.move_pct > 0 else "lower"
        when = datetime.fromtimestamp(h.time, UTC).strftime("%B %d, %Y %H:%M UTC")
        return (f"{h.headline}\n\n{when} - {sym} traded {direction} today, moving {abs(h.move_pct):.2f}% "
                f"by the close of the simulated session.\n\nMarket participants pointed to the day's flows and "
                f"positioning. Volume ran {'above' if abs(h.move_pct) > 1.5 else 'near'} its recent average.\n\n"
                f"This article is synthetic: ibxl.sim writes it from the simulated market, for testing.")


BULLETINS = (
    (1, "TWS API: the paper gateway ibxl.sim is running; all data is simulated.", ""),
    (3, "Exchange is available for trading: NYSE", "NYSE"),
    (3, "Exchange is available for trading: NASDAQ", "NASDAQ"),
    (2, "Exchange is unavailable for trading: PAXOS (scheduled maintenance)", "PAXOS"),
    (1, "System message: market data farm usfarm is connected.", ""),
)


def attach(gateway) -> None:  # noqa: ANN001 - the Gateway
    """Give a gateway its news room."""
    gateway.models["news"] = NewsRoom(gateway.market, gateway.config.seed)
