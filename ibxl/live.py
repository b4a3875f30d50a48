"""Live quotes: one market-data line per contract however many cells, panels and callers want it,
and a latest-quote cache any thread reads in microseconds without touching the event loop."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

import pandas as pd
from ib_async import Contract, Ticker

from . import config, connection, remote
from .contracts import contract_text, parse_contract, resolve
from .errors import IBXLError
from .tick_values import greek_value, tick_value

#: lines nobody holds are released after this many seconds without a read
IDLE_SECONDS = 60.0
#: IB's default allowance of simultaneous market-data lines
MAX_LINES = 100

#: RTD topic names (Excel's IB_QUOTE fields) -> snapshot attribute
FIELDS = {"bid": "bid", "ask": "ask", "last": "last", "bidsize": "bid_size", "asksize": "ask_size",
          "lastsize": "last_size", "volume": "volume", "open": "open", "high": "high", "low": "low",
          "close": "close", "change": "change", "changepct": "change_pct", "mid": "mid", "iv": "iv",
          "delta": "delta", "gamma": "gamma", "vega": "vega", "theta": "theta", "undprice": "und_price",
          "price": "price"}
TOPICS = ("Price", "Bid", "Ask", "Last", "BidSize", "AskSize", "LastSize", "Volume", "Open", "High", "Low", "Close",
          "Change", "ChangePct", "Mid", "IV", "Delta", "Gamma", "Vega", "Theta", "UndPrice")
NAN = float("nan")


@dataclass(frozen=True)
class QuoteSnapshot:
    """The latest quote of one contract (NaN where unknown)."""

    contract: str
    symbol: str
    bid: float = NAN
    ask: float = NAN
    last: float = NAN
    bid_size: float = NAN
    ask_size: float = NAN
    last_size: float = NAN
    volume: float = NAN
    open: float = NAN
    high: float = NAN
    low: float = NAN
    close: float = NAN
    change: float = NAN
    change_pct: float = NAN
    mid: float = NAN
    iv: float = NAN
    delta: float = NAN
    gamma: float = NAN
    vega: float = NAN
    theta: float = NAN
    und_price: float = NAN
    price: float = NAN
    open_interest: float = NAN
    time: pd.Timestamp | None = None
    stale: bool = False
    updated: float = 0.0

    @property
    def has_data(self) -> bool:
        """True once any price has arrived."""
        return not (math.isnan(self.bid) and math.isnan(self.ask) and math.isnan(self.last))

    @classmethod
    def from_values(cls, contract: str, symbol: str, values: Sequence[float], time: pd.Timestamp | None,
                    stale: bool, updated: float) -> QuoteSnapshot:
        """A snapshot from its numeric fields in ``NUMERIC_FIELDS`` order (as the hub sends them).

        Attached processes build thousands of these a second, so this fills the instance in one
        step rather than through the frozen dataclass's ``__init__`` (one guarded setattr per field,
        three times slower); the result is the same immutable snapshot.
        """
        snap = object.__new__(cls)
        state: dict[str, Any] = dict(zip(NUMERIC_FIELDS, values, strict=True))
        state.update(contract=contract, symbol=symbol, time=time, stale=stale, updated=updated)
        snap.__dict__.update(state)
        return snap


COLUMNS = [f.name for f in fields(QuoteSnapshot) if f.name not in ("contract", "updated", "open_interest")]
#: the numeric fields of a snapshot, in declaration order (the hub's quote records carry these)
NUMERIC_FIELDS = tuple(f.name for f in fields(QuoteSnapshot) if f.type in ("float", float) and f.name != "updated")


def market_price(bid: float, ask: float, last: float, close: float) -> float:
    """One price for any contract: the last trade when it lies within the current bid/ask (or
    there is no two-sided quote), else the midpoint, else the close (as ib_async's marketPrice)."""
    two_sided = not math.isnan(bid) and not math.isnan(ask) and bid <= ask
    if not math.isnan(last) and (not two_sided or bid <= last <= ask):
        return last
    if two_sided:
        return (bid + ask) / 2
    return close


_last_time: tuple[Any, pd.Timestamp | None] = (None, None)


def _ticker_time(t: Ticker) -> pd.Timestamp | None:
    # the tickers of one batch share ib_async's arrival time: convert it once
    global _last_time
    when = t.time
    if not when:
        return None
    seen, stamp = _last_time
    if seen is not when:
        stamp = pd.Timestamp(when)
        _last_time = (when, stamp)
    return stamp


def snapshot_of(key: str, t: Ticker, stale: bool = False) -> QuoteSnapshot:
    """Build a snapshot from an ib_async Ticker."""
    bid, ask, last, close = tick_value(t.bid), tick_value(t.ask), tick_value(t.last), tick_value(t.close)
    ref = last if not math.isnan(last) else ((bid + ask) / 2 if not math.isnan(bid + ask) else NAN)
    g = t.modelGreeks
    mid = (bid + ask) / 2 if not math.isnan(bid + ask) else NAN
    oi = tick_value(t.callOpenInterest) if t.contract and t.contract.right == "C" else tick_value(t.putOpenInterest)
    if g is not None:
        iv, delta, gamma = tick_value(g.impliedVol), greek_value(g.delta), greek_value(g.gamma)
        vega, theta, und = greek_value(g.vega), greek_value(g.theta), tick_value(g.undPrice)
    else:
        iv = delta = gamma = vega = theta = und = NAN
    # in NUMERIC_FIELDS order: a ticker update is the hot path of every quote, so no keyword init
    values = (bid, ask, last, tick_value(t.bidSize), tick_value(t.askSize), tick_value(t.lastSize),
              tick_value(t.volume), tick_value(t.open), tick_value(t.high), tick_value(t.low), close,
              ref - close if close == close else NAN, (ref - close) / close * 100 if close == close and close else NAN,
              mid, iv, delta, gamma, vega, theta, und, market_price(bid, ask, last, close), oi)
    return QuoteSnapshot.from_values(key, t.contract.symbol if t.contract else "", values, _ticker_time(t), stale,
                                     time.monotonic())


#: a quote as it arrived from the hub, not yet built into a snapshot: (values, time, stale, updated)
Record = tuple[Sequence[float], "pd.Timestamp | None", bool, float]


class Line:
    """One market-data subscription and its latest snapshot.

    In a process attached to the hub an update is stored as it arrived (a record) and becomes a
    ``QuoteSnapshot`` when first read: a desk's processes receive every update of every shared line
    but read far fewer (a cell recalculates at most 4 times a second), so receiving costs a store.
    """

    __slots__ = ("key", "contract", "symbol", "refs", "last_read", "_latest", "_built", "version", "ticker", "origin")

    def __init__(self, key: str, contract: Contract | None, symbol: str = "") -> None:
        self.key = key
        self.contract = contract
        self.symbol = contract.symbol if contract is not None else symbol
        self.refs = 0
        self.last_read = time.monotonic()
        empty = QuoteSnapshot(key, self.symbol)
        self._latest: QuoteSnapshot | Record = empty
        self._built: tuple[Record | None, QuoteSnapshot] = (None, empty)
        self.version = 0
        self.ticker: Ticker | None = None
        #: wall-clock time the update now in ``snapshot`` reached the process owning the connection
        self.origin = 0.0

    @property
    def snapshot(self) -> QuoteSnapshot:
        """The latest quote (built from the hub's record on first read)."""
        latest = self._latest
        if isinstance(latest, QuoteSnapshot):
            return latest
        record, snap = self._built
        if record is latest:
            return snap
        # the stream thread may store a newer record meanwhile, so the build is cached against the
        # record it came from and never written over the line's latest value
        values, when, stale, updated = latest
        snap = QuoteSnapshot.from_values(self.key, self.symbol, values, when, stale, updated)
        self._built = (latest, snap)
        return snap

    @snapshot.setter
    def snapshot(self, snap: QuoteSnapshot) -> None:
        self._latest = snap

    def store(self, record: Record) -> None:
        """Keep an update from the hub as it arrived (built into a snapshot on first read)."""
        self._latest = record


class LineSource(Protocol):
    """Where an attached process's lines come from: the hub, which owns the real subscriptions."""

    def open(self, text: str) -> QuoteSnapshot:
        """Open (or join) the desk's line of a contract; the snapshot's ``contract`` is its key."""
        ...

    def hold(self, key: str, held: bool) -> None:
        """Tell the owner whether this process holds the line (held lines are never evicted)."""
        ...

    def forget(self, key: str) -> None:
        """This process no longer reads the line."""
        ...


class QuoteHandle:
    """A caller's hold on a line: read ``snapshot()``; ``version`` changes with every update."""

    def __init__(self, registry: Registry, line: Line, owner: object | None) -> None:
        self._registry = registry
        self._line = line
        self.owner = owner
        self.released = False

    @property
    def line(self) -> Line:
        """The registry's line this handle holds."""
        return self._line

    @property
    def contract(self) -> str:
        """Canonical text of the contract."""
        return self._line.key

    @property
    def version(self) -> int:
        """Increments on every update (cheap change detection)."""
        return self._line.version

    @property
    def origin(self) -> float:
        """Wall-clock time the current update reached the process that owns the connection."""
        return self._line.origin

    def snapshot(self) -> QuoteSnapshot:
        """The latest quote."""
        line = self._line
        line.last_read = time.monotonic()
        return line.snapshot

    def release(self) -> None:
        """Give the line back (it closes once idle)."""
        self._registry.release(self)


class Registry:
    """Reference-counted market-data lines shared by everyone in the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._lines: dict[str, Line] = {}
        self._by_conid: dict[int, Line] = {}
        self._aliases: dict[str, str] = {}
        self._client: connection.Client | None = None
        self._source: LineSource | None = None
        self.max_lines = MAX_LINES
        self.updates = 0
        #: told (on the loop thread) of every batch of lines that changed, and of closed lines
        self.update_listeners: list[Callable[[list[Line]], None]] = []
        self.close_listeners: list[Callable[[str], None]] = []

    # ------------------------------------------------------------ wiring
    def _attach(self) -> connection.Client:
        c = connection.client()
        if self._client is not c:
            self.use_client(c)
        return c

    def use_client(self, c: connection.Client) -> None:
        """Start over on a new connection: lines are opened through it from now on."""
        with self._lock:
            if self._client is c:
                return
            self._lines.clear()
            self._by_conid.clear()
            self._source = None
            self._client = c
            self.max_lines = config.load().line_budget
            c.line_count = self.lines_open
            c.call(lambda: c.ib.pendingTickersEvent.connect(self._on_tickers))
            c.restore_hooks.append(self._restore)
            c.state_listeners.append(self._on_state)
            c.loop.call_soon_threadsafe(lambda: c.loop.create_task(self._janitor()))

    @property
    def source(self) -> LineSource | None:
        """Where lines come from when this process is attached to the hub (None otherwise)."""
        return self._source

    def use_source(self, source: LineSource | None) -> None:
        """Take lines from ``source`` (the hub) instead of a connection of this process."""
        with self._lock:
            self._lines.clear()
            self._by_conid.clear()
            self._client = None
            self._source = source

    def reset(self) -> None:
        """Forget every line (a new connection was made)."""
        with self._lock:
            self._lines.clear()
            self._by_conid.clear()
            self._client = None

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        # runs on the loop thread: swap in new immutable snapshots, readers never lock
        now = time.time()
        changed = []
        for t in tickers:
            line = self._by_conid.get(line_id(t.contract)) if t.contract else None
            if line is not None:
                line.snapshot = snapshot_of(line.key, t)
                line.origin = now
                line.version += 1
                self.updates += 1
                changed.append(line)
        if changed:
            for fn in self.update_listeners:
                fn(changed)

    def _on_state(self, up: bool) -> None:
        if not up:
            self.mark_stale()

    def mark_stale(self) -> None:
        """Mark every line's quote stale (the connection, or the hub, went away)."""
        lines = list(self._lines.values())
        for line in lines:
            line.snapshot = replace(line.snapshot, stale=True)
            line.version += 1
        for fn in self.update_listeners:
            fn(lines)

    # ------------------------------------------------------------ fed by the hub (attached processes)
    def apply(self, snapshot: QuoteSnapshot, origin: float = 0.0) -> None:
        """Install a snapshot that arrived from the hub (ignored when this process has no such line)."""
        line = self._lines.get(snapshot.contract)
        if line is not None:
            line.snapshot = snapshot
            line.origin = origin
            line.version += 1
            self.updates += 1

    def apply_values(self, key: str, values: Sequence[float], time: pd.Timestamp | None, stale: bool,
                     origin: float, updated: float) -> bool:
        """Install a quote record from the hub (``NUMERIC_FIELDS`` order); False when this process
        has no line for ``key`` (nothing is built for it)."""
        line = self._lines.get(key)
        if line is None:
            return False
        line.store((values, time, stale, updated))
        line.origin = origin
        line.version += 1
        self.updates += 1
        return True

    def __contains__(self, key: object) -> bool:
        """True when this process has a line for ``key`` (a canonical key)."""
        return key in self._lines

    def drop(self, key: str) -> None:
        """Forget a line the hub closed (the next read opens it again)."""
        with self._lock:
            self._lines.pop(key, None)

    def held(self) -> list[tuple[str, bool]]:
        """Every line of this process as (key, held by someone here)."""
        return [(line.key, line.refs > 0) for line in list(self._lines.values())]

    def read_since(self, since: float) -> list[str]:
        """Keys of the lines read since ``since`` (monotonic seconds)."""
        return [line.key for line in list(self._lines.values()) if line.last_read >= since]

    def idle_keys(self, seconds: float = IDLE_SECONDS) -> list[str]:
        """Lines nobody here holds nor read for ``seconds``: forgotten by an attached process."""
        now = time.monotonic()
        return [x.key for x in list(self._lines.values()) if x.refs <= 0 and now - x.last_read > seconds]

    async def _restore(self) -> None:
        c = self._client
        if c is None:
            return
        for line in list(self._lines.values()):
            if line.contract is not None:  # lines fed by a hub have no contract of their own here
                line.ticker = c.ib.reqMktData(line.contract, _generic(line.contract))

    async def _janitor(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(5.0)
            now = time.monotonic()
            for line in list(self._lines.values()):
                if line.refs <= 0 and now - line.last_read > IDLE_SECONDS:
                    self._close_line(line)

    def _close_line(self, line: Line) -> None:
        with self._lock:
            self._lines.pop(line.key, None)
            if line.contract is not None:
                self._by_conid.pop(line_id(line.contract), None)
        c, contract = self._client, line.contract
        if c is not None and c.connected and contract is not None:
            c.call(lambda: c.ib.cancelMktData(contract))
        for fn in self.close_listeners:
            fn(line.key)

    # ------------------------------------------------------------ public
    def key_of(self, text: str | Contract) -> str:
        """Canonical key of contract text (memoised: the hot path of ``quote``)."""
        if isinstance(text, Contract):
            return contract_text(text)
        key = self._aliases.get(text)
        if key is None:
            key = parse_contract(text).text
            self._aliases[text] = key
        return key

    def line(self, text: str | Contract) -> Line:
        """The line of a contract, opening it if needed."""
        if self._source is None and self._client is None and connection.current() is None:
            remote.ensure_mode()  # with default settings a process attaches to the hub
        if self._source is not None:
            return self._remote_line(text)
        c = self._attach()  # a new connection starts with a clean set of lines
        key = self.key_of(text)
        line = self._lines.get(key)
        if line is not None:
            return line
        contract = resolve(text if isinstance(text, str) else text)
        key = contract_text(contract) if not isinstance(text, str) else key
        with self._lock:
            line = self._lines.get(key)
            if line is not None:
                return line
            if len(self._lines) >= self.max_lines:
                self._evict_one()
            line = Line(key, contract)
            self._lines[key] = line
            self._by_conid[line_id(contract)] = line

        def open_line() -> None:
            line.ticker = c.ib.reqMktData(contract, _generic(contract))

        c.call(open_line)
        return line

    def _remote_line(self, text: str | Contract) -> Line:
        key = self.key_of(text)
        line = self._lines.get(key)
        if line is not None:
            return line
        source = self._source
        assert source is not None
        snap = source.open(key)
        with self._lock:
            line = self._lines.get(snap.contract)
            if line is None:
                line = Line(snap.contract, None, snap.symbol)
                line.snapshot = snap
                self._lines[snap.contract] = line
            if snap.contract != key:
                self._aliases[text if isinstance(text, str) else key] = snap.contract
        return line

    def _evict_one(self) -> None:
        idle = [x for x in self._lines.values() if x.refs <= 0]
        if not idle:
            raise IBXLError(f"all {self.max_lines} market-data lines are in use", code=101)
        self._close_line(min(idle, key=lambda x: x.last_read))

    def subscribe(self, text: str | Contract, owner: object | None = None) -> QuoteHandle:
        """Hold a line open for ``owner`` until the handle is released."""
        line = self.line(text)
        with self._lock:
            line.refs += 1
            first = line.refs == 1
        if first and self._source is not None:
            self._source.hold(line.key, True)
        return QuoteHandle(self, line, owner)

    def release(self, handle: QuoteHandle) -> None:
        """Release a handle (idempotent)."""
        if handle.released:
            return
        handle.released = True
        line = handle.line
        with self._lock:
            line.refs -= 1
            line.last_read = time.monotonic()
            last = line.refs == 0
        if last and self._source is not None and self._lines.get(line.key) is line:
            self._source.hold(line.key, False)

    def cached(self, text: str) -> QuoteSnapshot | None:
        """The cached snapshot of a contract, without opening anything (None if no line)."""
        key = self._aliases.get(text) or self.key_of(text)
        line = self._lines.get(key)
        if line is None:
            return None
        line.last_read = time.monotonic()
        return line.snapshot

    def lines_open(self) -> int:
        """Market-data lines currently open."""
        return len(self._lines)


def line_id(contract: Contract) -> int:
    """What identifies a contract's ticker: its conId, or for a combo (which has none) the hash
    ib_async files its ticker under (the legs, symbol and exchange)."""
    return contract.conId if contract.conId else hash(contract)


def _generic(contract: Contract) -> str:
    return "101" if contract.secType in ("OPT", "FOP") else ""


_registry = Registry()
connection.new_client_hooks.append(_registry.use_client)


def registry() -> Registry:
    """The process-wide line registry."""
    return _registry


async def hold_generic(ib: Any, contracts: list[Contract], generic: str, ready: Callable[[Ticker], bool],
                       wait: float, label: str, poll: float = 0.02) -> list[Ticker]:
    """Tickers of ``contracts`` from lines with ``generic`` ticks held only until ``ready`` holds for
    all of them or ``wait`` seconds pass (TWS refuses generic ticks on snapshots).

    The lines use request ids of their own, filed under ``label``: a line the registry holds on the
    same contract keeps its request id, so cancelling these never cancels (or orphans) that one.
    Runs on the connection's event loop."""
    import asyncio

    started: list[tuple[Ticker, int]] = []
    try:
        for con in contracts:
            req_id = ib.client.getReqId()
            started.append((ib.wrapper.startTicker(req_id, con, label), req_id))
            ib.client.reqMktData(req_id, con, generic, False, False, [])
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not all(ready(t) for t, _ in started):
            await asyncio.sleep(poll)
    finally:
        for t, req_id in started:
            ib.wrapper.endTicker(t, label)
            ib.client.cancelMktData(req_id)
    return [t for t, _ in started]


@remote.on_hub
def free_lines() -> int:
    """Market-data lines the login has left: its budget less every line open now. Counted where the
    connection is, so in a process attached to the hub this counts the whole desk's lines."""
    return _registry.max_lines - _registry.lines_open()


def subscribe(contract: str, owner: object | None = None) -> QuoteHandle:
    """Hold a live quote line for ``contract``; read ``handle.snapshot()``; ``unsubscribe`` when done."""
    return _registry.subscribe(contract, owner)


def unsubscribe(handle: QuoteHandle) -> None:
    """Release a handle from :func:`subscribe`."""
    _registry.release(handle)


def first_snapshot(contract: Any, wait: float) -> QuoteSnapshot:
    """The latest snapshot of a contract's line, waiting up to ``wait`` seconds for its first tick."""
    snap = _registry.line(contract).snapshot
    deadline = time.monotonic() + wait
    while not snap.has_data and time.monotonic() < deadline:
        time.sleep(0.02)
        snap = _registry.line(contract).snapshot
    return snap


def _field_name(field: str) -> str:
    name = FIELDS.get(field.replace("_", "").replace(" ", "").lower())
    if name is None:
        raise ValueError(f"field {field!r} - expected one of {', '.join(TOPICS)}")
    return name


def quote(contract: str, field: str = "last") -> float:
    """One field of the latest quote, from the cache (NaN until the first tick arrives).

    ``field`` is an IB RTD topic name, case-insensitive: Bid, Ask, Last, BidSize, AskSize,
    LastSize, Volume, Open, High, Low, Close, Change, ChangePct, Mid, IV, Delta, Gamma, Vega,
    Theta, UndPrice.
    """
    name = _field_name(field)
    snap = _registry.cached(contract)
    if snap is None:
        snap = _registry.line(contract).snapshot
    return getattr(snap, name)


def quotes(contracts: str | list[str], fields: list[str] | None = None, *, wait: float = 2.0) -> pd.DataFrame:
    """Latest quotes of several contracts as a DataFrame indexed by canonical contract text.

    Subscribes (shared with every other caller) and waits up to ``wait`` seconds for first ticks.
    Columns: symbol, bid, ask, last, bid_size, ask_size, last_size, volume, open, high, low, close,
    change, change_pct, mid, iv, delta, gamma, vega, theta, und_price, time, stale.
    """
    items = [contracts] if isinstance(contracts, str) else list(contracts)
    handles: list[QuoteHandle] = []
    try:
        for c in items:  # inside the try: a bad contract must not leave the good ones held
            handles.append(_registry.subscribe(c, owner="quotes()"))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not all(h.snapshot().has_data for h in handles):
            time.sleep(0.02)
        rows = [h.snapshot() for h in handles]
    finally:
        for h in handles:
            h.release()
    df = pd.DataFrame([{c: getattr(r, c) for c in COLUMNS} for r in rows],
                      index=pd.Index([r.contract for r in rows], name="contract"))
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["stale"] = df["stale"].astype(bool)
    if fields:
        names = [_field_name(f) if f not in COLUMNS else f for f in fields]
        df = df[names]
    return df


# ------------------------------------------------------------ public readers for worksheet functions
def field_name(field: str) -> str:
    """The snapshot attribute of a quote field name (``"ChangePct"`` -> ``"change_pct"``).

    Case, spaces and underscores are ignored; an unknown name raises ValueError listing the
    known ones (Price, Bid, Ask, Last, ...).
    """
    return _field_name(field)


def latest(contract: str) -> QuoteSnapshot:
    """The latest snapshot of a contract from this process's cache, opening its line on first use
    (then the snapshot has no data yet: ``has_data`` is False until the first tick arrives). Not a
    hub call: in an attached process the cache is fed by the hub's stream, so a read stays local."""
    snap = _registry.cached(contract)
    return snap if snap is not None else _registry.line(contract).snapshot
