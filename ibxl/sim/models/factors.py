"""One market: daily log returns built from shared factors, so instruments move together.

A stock's daily log return is ``beta * market + loading * sector + own``: the market factor is
the S&P 500 index's own walk, each sector has a walk of its own, and the idiosyncratic part is
sized so the total volatility stays the instrument's (``volatility`` in the universe). The
volatility index mean-reverts in logs and moves against the market. Betas, sectors and the
factor settings are data (``data/universe.json``); everything is a pure, vectorised function of
the seed, so the same seed gives the same market and a path costs well under a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.signal import lfilter

from .instruments import Instrument

#: share of an instrument's variance that stays its own, however high its beta
MIN_OWN_SHARE = 0.12
Rng = Callable[..., np.random.Generator]


def walk_steps(rng: np.random.Generator, sigma: float, days: int) -> np.ndarray:
    """Daily log steps of a fat-tailed random walk: a few days of the year move three times as much."""
    steps = rng.standard_normal(days) * sigma
    shocks = rng.random(days) < 0.02
    steps[shocks] *= 3.0
    return steps


class FactorModel:
    """Daily log returns per instrument from the market, sector and own factors."""

    def __init__(self, rng: Rng, days: int, market: Instrument | None, settings: dict) -> None:
        self._rng = rng
        self.days = days
        self.market = market
        self.sector_vols: dict[str, float] = {k: float(v) for k, v in settings.get("sectors", {}).items()}
        vix = settings.get("vix", {})
        self.vix_reversion = float(vix.get("mean_reversion", 0.04))
        self.vix_elasticity = float(vix.get("spx_elasticity", -4.5))
        self.vix_noise = float(vix.get("noise", 0.035))
        self._cache: dict[str, np.ndarray] = {}

    def _market_sigma(self) -> float:
        return (self.market.volatility if self.market else 0.16) / math.sqrt(365.0)

    def market_steps(self) -> np.ndarray:
        """The market factor: the index's own fat-tailed walk (so the index is the market)."""
        steps = self._cache.get("market")
        if steps is None:
            con = self.market.conId if self.market else 1
            steps = walk_steps(self._rng(con, 0), self._market_sigma(), self.days)
            self._cache["market"] = steps
        return steps

    def sector_steps(self, sector: str) -> np.ndarray:
        """A sector's daily factor returns."""
        key = f"sector:{sector}"
        steps = self._cache.get(key)
        if steps is None:
            code = int.from_bytes(sector.encode()[:8].ljust(8, b"\0"), "big") & 0xFFFFFFFF
            sigma = self.sector_vols.get(sector, 0.0) / math.sqrt(365.0)
            steps = walk_steps(self._rng(code, 9), sigma, self.days)
            self._cache[key] = steps
        return steps

    def steps(self, inst: Instrument) -> np.ndarray:
        """Daily log steps of one instrument (length ``days``)."""
        if self.market is not None and inst.conId == self.market.conId:
            return self.market_steps()
        sigma = inst.volatility / math.sqrt(365.0)
        own_rng = self._rng(inst.conId, 0)
        if inst.model == "volatility":
            return self._volatility_steps(own_rng)
        if not inst.beta and not inst.sector:
            return walk_steps(own_rng, sigma, self.days)
        common = inst.beta * self.market_steps()
        var_common = (inst.beta * self._market_sigma()) ** 2
        sector_sigma = self.sector_vols.get(inst.sector, 0.0) / math.sqrt(365.0)
        if inst.sector and sector_sigma:
            common = common + inst.sectorLoading * self.sector_steps(inst.sector)
            var_common += (inst.sectorLoading * sector_sigma) ** 2
        own_sigma = math.sqrt(max(sigma * sigma - var_common, MIN_OWN_SHARE * sigma * sigma))
        return common + walk_steps(own_rng, own_sigma, self.days)

    def _volatility_steps(self, rng: np.random.Generator) -> np.ndarray:
        """Log steps of a volatility index: an AR(1) in logs driven against the market."""
        market = self.market_steps() / self._market_sigma()  # market moves in standard deviations
        shocks = self.vix_elasticity * market * self._market_sigma() + rng.standard_normal(self.days) * self.vix_noise
        level = lfilter([1.0], [1.0, -(1.0 - self.vix_reversion)], shocks)
        return np.diff(np.concatenate([[0.0], level]))
