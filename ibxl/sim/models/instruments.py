"""What the gateway knows about one tradable instrument (a row of the universe)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Instrument:
    """A contract the gateway can quote and trade, with its reference data.

    Field names follow IB's ``Contract`` and ``ContractDetails`` so the protocol layer
    can encode them without translation.
    """

    conId: int
    symbol: str
    secType: str  # STK, ETF is STK too, IND, CASH, FUT, OPT, CRYPTO
    exchange: str  # the routing exchange a contract details answer shows (SMART for stocks)
    currency: str = "USD"
    primaryExchange: str = ""
    localSymbol: str = ""
    tradingClass: str = ""
    multiplier: str = ""
    lastTradeDateOrContractMonth: str = ""  # YYYYMMDD for derivatives
    strike: float = 0.0
    right: str = ""  # C or P for options
    minTick: float = 0.01
    longName: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stockType: str = ""  # COMMON, ETF, ...
    timeZoneId: str = "US/Eastern"
    marketName: str = ""
    marketRuleId: int = 26
    validExchanges: tuple[str, ...] = ()
    orderTypes: tuple[str, ...] = ()
    underConId: int = 0
    underSymbol: str = ""
    underSecType: str = ""
    contractMonth: str = ""
    #: which trading calendar the instrument follows (see ``calendar.py``)
    calendar: str = "us_equity"
    # --- market model parameters (not sent on the wire) ---
    refPrice: float = 100.0
    volatility: float = 0.25
    avgVolume: float = 1_000_000.0
    marketCap: float = 0.0
    optionable: bool = False
    #: conId of the instrument whose price this one follows (futures and index ETFs follow their index)
    tracks: int = 0
    #: price of this instrument per unit of the one it tracks (SPY is a tenth of SPX)
    trackRatio: float = 1.0
    #: factor model: sensitivity to the market, sector name and sensitivity to it ("" for none)
    beta: float = 0.0
    sector: str = ""
    sectorLoading: float = 1.0
    #: "volatility" for a volatility index (mean-reverting, against the market); "" for a walk
    model: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def multiplier_value(self) -> float:
        """The contract multiplier as a number (1 when none)."""
        try:
            return float(self.multiplier) if self.multiplier else 1.0
        except ValueError:
            return 1.0

    @property
    def is_option(self) -> bool:
        """True for options (on stocks, ETFs, indices and futures)."""
        return self.secType in ("OPT", "FOP")

    def describe(self) -> str:
        """A short human description, e.g. ``AAPL STK SMART`` or ``SPY 20261218 450 C``."""
        if self.is_option:
            return f"{self.symbol} {self.lastTradeDateOrContractMonth} {self.strike:g} {self.right}"
        if self.secType == "FUT":
            return f"{self.symbol} {self.lastTradeDateOrContractMonth} FUT {self.exchange}"
        return f"{self.symbol} {self.secType} {self.exchange}"
