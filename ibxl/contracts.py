"""Contracts as text: one parser for everything a user types, a canonical form that parses back
to itself, and resolution to a qualified contract (cached, with "did you mean ...?" on failure).

Accepted forms:

=====================================  ==============================================
``AAPL``, ``IBM@ISLAND``               IB RTD simple syntax:
``MSFT@SMART/ISLAND``                  ``SYMBOL@EXCHANGE/PRIMEXCH/SECTYPE/EXPIRY/RIGHT/STRIKE/CURRENCY``
``BMO@SMART//////CAD``
``ES@CME//FUT/202612``
``EUR.USD/CASH``, ``BTC.USD/CRYPTO``   currency pairs and crypto
``sym=ES sec=FUT exch=CME exp=202612`` RTD complex syntax (key=value, any order)
``AAPL  261218C00150000``              OCC option symbol
``AAPL 20261218 150 C`` (``SPX ... P SPXW``)  short option form, optional trading class
``ES 202612``                          short future form
``conid=265598``                       a contract id
``+1 SPY 20261218 600 C, -1 SPY 20261218 610 C``  a combination (BAG): signed ratio and
                                       any single-contract text per leg, comma separated
``sym=SPY sec=BAG cmb=ID#1#BUY#SMART;ID#1#SELL#SMART``  IB RTD combo syntax: ``conId#ratio#
                                       action#exchange`` per leg, ``;`` separated
=====================================  ==============================================
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass, replace

from ib_async import ComboLeg, Contract

from .errors import AmbiguousContract, ContractNotFound, ContractSyntaxError
from .remote import on_hub

FORMS = ("AAPL", "IBM@ISLAND", "MSFT@SMART/ISLAND", "BMO@SMART//////CAD", "EUR.USD/CASH", "BTC.USD/CRYPTO",
         "sym=ES sec=FUT exch=CME exp=202612", "AAPL  261218C00150000", "AAPL 20261218 150 C", "ES 202612",
         "conid=265598")
_KEYS = {"sym": "symbol", "symbol": "symbol", "sec": "sec_type", "sectype": "sec_type", "exch": "exchange",
         "exchange": "exchange", "pexch": "primary", "primexch": "primary", "primaryexchange": "primary",
         "cur": "currency", "currency": "currency", "exp": "expiry", "expiry": "expiry", "strike": "strike",
         "right": "right", "mult": "multiplier", "multiplier": "multiplier", "tc": "trading_class",
         "tradingclass": "trading_class", "local": "local_symbol", "localsymbol": "local_symbol",
         "conid": "con_id"}
_SEC_TYPES = {"STK", "OPT", "FUT", "IND", "CASH", "CRYPTO", "FOP", "CFD", "BOND", "WAR", "FUND", "CMDTY"}
_OCC = re.compile(r"^([A-Z][A-Z.]{0,5})(\d{6})([CP])(\d{8})$")
_SHORT_OPT = re.compile(r"^([A-Z][A-Z0-9.]{0,5})\s+(\d{8})\s+(\d+(?:\.\d+)?)\s+([CP]|CALL|PUT)(?:\s+([A-Z0-9]+))?$")
_SHORT_FUT = re.compile(r"^([A-Z][A-Z0-9]{0,4})\s+(\d{6}|\d{8})$")
_PAIR = re.compile(r"^([A-Z]{2,5})\.([A-Z]{3})/(CASH|CRYPTO)$")
_DEFAULT_EXCH = {"STK": "SMART", "OPT": "SMART", "CASH": "IDEALPRO", "CRYPTO": "PAXOS", "IND": ""}
_LEG = re.compile(r"^([+-])\s*(\d+)\s*(?:[xX*]\s*)?\s(.+)$")
_CMB_LEG = re.compile(r"^(\d+)#(\d+)#(BUY|SELL)(?:#([A-Z0-9]*))?$")
#: legs a combo may have
MAX_LEGS = 8


@dataclass(frozen=True)
class ContractSpec:
    """A contract as text describes it (before asking TWS); empty fields are unspecified."""

    symbol: str = ""
    sec_type: str = "STK"
    exchange: str = ""
    primary: str = ""
    currency: str = "USD"
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    trading_class: str = ""
    local_symbol: str = ""
    con_id: int = 0

    @property
    def text(self) -> str:
        """The canonical text form (parses back to an equal spec)."""
        return spec_text(self)

    def to_contract(self) -> Contract:
        """An ib_async Contract with these fields."""
        exch = self.exchange or _DEFAULT_EXCH.get(self.sec_type, "")
        return Contract(conId=self.con_id, symbol=self.symbol, secType=self.sec_type if not self.con_id else "",
                        lastTradeDateOrContractMonth=self.expiry, strike=self.strike, right=self.right,
                        multiplier=self.multiplier, exchange=exch if not self.con_id else "",
                        primaryExchange=self.primary, currency=self.currency if not self.con_id else "",
                        localSymbol=self.local_symbol, tradingClass=self.trading_class)


@dataclass(frozen=True)
class ComboLegSpec:
    """One leg of a combo: how many per combo unit (negative when sold) and which contract."""

    ratio: int
    leg: ContractSpec

    @property
    def action(self) -> str:
        """BUY or SELL."""
        return "BUY" if self.ratio > 0 else "SELL"


@dataclass(frozen=True)
class ComboSpec:
    """A combination (BAG) contract as text describes it: its legs in order."""

    legs: tuple[ComboLegSpec, ...]
    currency: str = "USD"
    sec_type: str = "BAG"

    @property
    def text(self) -> str:
        """The canonical text: ``+1 SPY 20261218 600 C, -1 SPY 20261218 610 C``."""
        return ", ".join(f"{'+' if x.ratio > 0 else '-'}{abs(x.ratio)} {x.leg.text}" for x in self.legs)

    @property
    def symbol(self) -> str:
        """The symbol of the legs (the first leg's when they differ)."""
        return self.legs[0].leg.symbol


def _syntax(text: str, why: str) -> ContractSyntaxError:
    return ContractSyntaxError(f"cannot read contract {text!r}: {why}",
                               hint="accepted forms: " + ", ".join(repr(f) for f in FORMS))


def _num(text: str, what: str, raw: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _syntax(raw, f"{what} {text!r} is not a number") from None


def parse_contract(text: str) -> ContractSpec | ComboSpec:
    """Parse contract text in any accepted form (no IB call); raises ContractSyntaxError.

    Text starting with a signed ratio (``+1 ...``) or carrying ``cmb=`` is a combo (ComboSpec).
    """
    if not isinstance(text, str):
        raise _syntax(str(text), "expected text")
    raw = text
    s = text.strip()
    if not s:
        raise _syntax(raw, "it is empty")
    if s[0] in "+-":
        return _parse_combo(s, raw)
    if re.search(r"(^|[\s,;])cmb=", s, re.IGNORECASE):
        return _parse_rtd_combo(s, raw)
    if "=" in s:
        return _parse_complex(s, raw)
    up = s.upper()
    m = _OCC.match(re.sub(r"\s+", "", up))
    if m:
        sym, yymmdd, right, strike = m.groups()
        return ContractSpec(symbol=sym, sec_type="OPT", exchange="SMART", expiry=f"20{yymmdd}", right=right,
                            strike=int(strike) / 1000, multiplier="100")
    norm = " ".join(up.split())
    m = _SHORT_OPT.match(norm)
    if m:
        sym, exp, strike, right, tclass = m.groups()
        return ContractSpec(symbol=sym, sec_type="OPT", exchange="SMART", expiry=exp,
                            strike=_num(strike, "strike", raw), right=right[0], multiplier="100",
                            trading_class=tclass or "")
    m = _SHORT_FUT.match(norm)
    if m:
        return ContractSpec(symbol=m[1], sec_type="FUT", expiry=m[2], currency="USD")
    m = _PAIR.match(norm)
    if m:
        base, quote, kind = m.groups()
        return ContractSpec(symbol=base, sec_type=kind, exchange=_DEFAULT_EXCH[kind], currency=quote)
    if " " in norm:
        raise _syntax(raw, "unexpected spaces")
    return _parse_simple(norm, raw)


def _combo_syntax(text: str, why: str) -> ContractSyntaxError:
    return ContractSyntaxError(f"cannot read combo {text!r}: {why}",
                               hint="write legs as '+1 SPY 20261218 600 C, -1 SPY 20261218 610 C' (a signed "
                                    "ratio, then any contract text, comma separated) or IB's RTD form "
                                    "'sym=SPY sec=BAG cmb=CONID#1#BUY#SMART;CONID#1#SELL#SMART'")


def _check_legs(legs: list[ComboLegSpec], raw: str) -> ComboSpec:
    if len(legs) < 2:
        raise _combo_syntax(raw, f"a combo needs at least two legs (got {len(legs)})")
    if len(legs) > MAX_LEGS:
        raise _combo_syntax(raw, f"a combo has at most {MAX_LEGS} legs (got {len(legs)})")
    texts = [x.leg.text for x in legs]
    if len(set(texts)) != len(texts):
        dup = next(t for t in texts if texts.count(t) > 1)
        raise _combo_syntax(raw, f"leg {dup!r} appears twice; give it once with the total ratio")
    currencies = {x.leg.currency for x in legs if x.leg.currency}
    if len(currencies) > 1:
        raise _combo_syntax(raw, f"legs trade in different currencies ({', '.join(sorted(currencies))})")
    return ComboSpec(tuple(legs), currency=next(iter(currencies), "USD"))


def _parse_combo(s: str, raw: str) -> ComboSpec:
    legs: list[ComboLegSpec] = []
    for i, part in enumerate(s.split(","), start=1):
        part = part.strip()
        m = _LEG.match(part)
        if not m:
            raise _combo_syntax(raw, f"leg {i} {part!r} does not start with a signed ratio such as '+1 ' or '-2 '")
        sign, ratio, body = m.groups()
        if int(ratio) <= 0:
            raise _combo_syntax(raw, f"leg {i} has ratio {ratio}; ratios are whole numbers from 1")
        if body.strip()[:1] in "+-":
            raise _combo_syntax(raw, f"leg {i} {part!r} has two signs")
        try:
            leg = parse_contract(body)
        except ContractSyntaxError as e:
            raise _combo_syntax(raw, f"leg {i}: {e.message}") from None
        if isinstance(leg, ComboSpec):
            raise _combo_syntax(raw, f"leg {i} is itself a combo")
        legs.append(ComboLegSpec(int(ratio) * (1 if sign == "+" else -1), leg))
    return _check_legs(legs, raw)


def _parse_rtd_combo(s: str, raw: str) -> ComboSpec:
    fields: dict[str, str] = {}
    for part in re.split(r"[\s,]+", s.strip()):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise _combo_syntax(raw, f"{part!r} is not key=value")
        fields[key.strip().lower()] = value.strip().upper()
    sec = fields.get("sec", fields.get("sectype", "BAG"))
    if sec != "BAG":
        raise _combo_syntax(raw, f"cmb= needs sec=BAG, not sec={sec}")
    legs: list[ComboLegSpec] = []
    for i, part in enumerate(x for x in fields.get("cmb", "").split(";") if x.strip()):
        m = _CMB_LEG.match(part.strip())
        if not m:
            raise _combo_syntax(raw, f"leg {i + 1} {part!r} is not CONID#RATIO#BUY|SELL#EXCHANGE")
        con_id, ratio, action, _exch = m.groups()
        if int(ratio) <= 0:
            raise _combo_syntax(raw, f"leg {i + 1} has ratio {ratio}; ratios are whole numbers from 1")
        legs.append(ComboLegSpec(int(ratio) * (1 if action == "BUY" else -1),
                                 ContractSpec(symbol="", sec_type="", currency="", con_id=int(con_id))))
    combo = _check_legs(legs, raw)
    return replace(combo, currency=fields.get("cur", fields.get("currency", "USD")))


def _parse_simple(s: str, raw: str) -> ContractSpec:
    head, *slots = s.split("/")
    sym, _, exch = head.partition("@")
    if not sym or not re.match(r"^[A-Z0-9][A-Z0-9.\- ]*$", sym):
        raise _syntax(raw, f"symbol {sym!r} is not a ticker")
    slots += [""] * (6 - len(slots))
    if len(slots) > 6:
        raise _syntax(raw, "too many '/' fields (SYMBOL@EXCH/PRIMEXCH/SECTYPE/EXPIRY/RIGHT/STRIKE/CURRENCY)")
    primary, sec, expiry, right, strike, currency = slots
    sec = sec or "STK"
    if sec not in _SEC_TYPES:
        raise _syntax(raw, f"security type {sec!r} is unknown; use one of {', '.join(sorted(_SEC_TYPES))}")
    if right and right not in ("C", "P", "CALL", "PUT"):
        raise _syntax(raw, f"right {right!r} must be C or P")
    return ContractSpec(symbol=sym, sec_type=sec, exchange=exch or _DEFAULT_EXCH.get(sec, ""), primary=primary,
                        currency=currency or "USD", expiry=expiry, right=right[:1],
                        strike=_num(strike, "strike", raw) if strike else 0.0,
                        multiplier="100" if sec == "OPT" else "")


def _parse_complex(s: str, raw: str) -> ContractSpec:
    fields: dict[str, object] = {}
    for part in re.split(r"[\s,;]+", s.strip()):
        if not part:
            continue
        key, sep, value = part.partition("=")
        name = _KEYS.get(key.strip().lower())
        if not sep or name is None:
            raise _syntax(raw, f"{part!r} is not key=value with a known key ({', '.join(sorted(set(_KEYS)))})")
        value = value.strip()
        if name == "con_id":
            if not value.isdigit():
                raise _syntax(raw, f"conid {value!r} is not a number")
            fields[name] = int(value)
        elif name == "strike":
            fields[name] = _num(value, "strike", raw)
        else:
            fields[name] = value.upper() if name not in ("local_symbol",) else value
    if "con_id" in fields and len(fields) == 1:
        return ContractSpec(symbol="", sec_type="", currency="", con_id=int(str(fields["con_id"])))
    if "symbol" not in fields and "con_id" not in fields and "local_symbol" not in fields:
        raise _syntax(raw, "sym= (or conid= or local=) is required")
    sec = str(fields.get("sec_type", "STK"))
    if sec not in _SEC_TYPES:
        raise _syntax(raw, f"security type {sec!r} is unknown")
    fields.setdefault("exchange", _DEFAULT_EXCH.get(sec, ""))
    if sec == "OPT":
        fields.setdefault("multiplier", "100")
    right = str(fields.get("right", ""))
    if right:
        fields["right"] = right[:1]
    return ContractSpec(**{"sec_type": sec, **fields})  # type: ignore[arg-type]


def spec_text(spec: ContractSpec) -> str:
    """Canonical text of a spec."""
    if spec.con_id and not spec.symbol:
        return f"conid={spec.con_id}"
    if spec.sec_type in ("CASH", "CRYPTO"):
        return f"{spec.symbol}.{spec.currency}/{spec.sec_type}"
    if spec.sec_type == "OPT":
        strike = f"{spec.strike:g}"
        tail = f" {spec.trading_class}" if spec.trading_class and spec.trading_class != spec.symbol else ""
        return f"{spec.symbol} {spec.expiry} {strike} {spec.right}{tail}"
    if spec.sec_type == "STK" and spec.exchange in ("", "SMART") and not spec.primary and spec.currency == "USD":
        return spec.symbol
    if spec.sec_type == "FUT" and not spec.exchange and not spec.primary and spec.currency == "USD":
        return f"{spec.symbol} {spec.expiry}"
    slots = [spec.primary, spec.sec_type if spec.sec_type != "STK" else "", spec.expiry, spec.right,
             f"{spec.strike:g}" if spec.strike else "", spec.currency if spec.currency != "USD" else ""]
    while slots and not slots[-1]:
        slots.pop()
    return f"{spec.symbol}@{spec.exchange or _DEFAULT_EXCH.get(spec.sec_type, '')}" + "".join("/" + x for x in slots)


def contract_text(contract: Contract | ContractSpec | ComboSpec | str) -> str:
    """Canonical text of a contract (qualified ib_async Contract, spec, or any accepted text)."""
    if isinstance(contract, str):
        return parse_contract(contract).text
    if isinstance(contract, ContractSpec | ComboSpec):
        return contract.text
    c = contract
    sec = c.secType or "STK"
    if sec == "BAG":
        with _cache_lock:
            names = {leg.conId: _text_by_conid.get(leg.conId) for leg in c.comboLegs or []}
        return ", ".join(f"{'+' if leg.action == 'BUY' else '-'}{leg.ratio} {names[leg.conId] or f'conid={leg.conId}'}"
                         for leg in c.comboLegs or [])
    if sec == "FUT":
        return spec_text(ContractSpec(symbol=c.symbol, sec_type="FUT", exchange=c.exchange or "",
                                      expiry=c.lastTradeDateOrContractMonth, currency=c.currency or "USD"))
    if sec in ("OPT", "FOP"):
        return spec_text(ContractSpec(symbol=c.symbol, sec_type="OPT", expiry=c.lastTradeDateOrContractMonth,
                                      strike=c.strike, right=c.right, trading_class=c.tradingClass))
    exch = c.exchange if sec not in ("STK",) or c.exchange not in ("SMART", "") else "SMART"
    return spec_text(ContractSpec(symbol=c.symbol, sec_type=sec, exchange=exch, currency=c.currency or "USD"))


# ------------------------------------------------------------ resolution
_cache: dict[str, Contract] = {}
_cache_lock = threading.Lock()
#: canonical text of every contract resolved so far, by conId (names the legs of combos)
_text_by_conid: dict[int, str] = {}
#: the legs of every combo resolved so far: (leg contract, signed ratio)
_combo_legs: dict[str, list[tuple[Contract, int]]] = {}


@on_hub
def resolve(text: str | Contract, timeout: float | None = None) -> Contract:
    """The qualified contract the text means (cached). Unknown text raises ContractNotFound with
    candidates; several matches raise AmbiguousContract listing them. A combo resolves each leg
    and gives a BAG contract with the legs' conIds."""
    if isinstance(text, Contract):
        if text.conId or text.secType == "BAG":
            return text
        text = contract_text(text)
    spec = parse_contract(text)
    key = spec.text
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    if isinstance(spec, ComboSpec):
        return _resolve_combo(spec, key, timeout)
    from .connection import client

    c = client()
    contract = c.run(lambda: _resolve_async(c.ib, spec, text), timeout)
    with _cache_lock:
        _cache[key] = contract
        _text_by_conid.setdefault(contract.conId, key)
    return contract


def remember(contract: Contract) -> None:
    """Add a qualified contract (with its conId) to the resolution cache, so that its text resolves
    without a request (option chains learn every strike's contract from one request per expiry)."""
    if not contract.conId:
        raise ValueError(f"{contract_text(contract)!r} has no conId - only qualified contracts can be remembered")
    key = parse_contract(contract_text(contract)).text
    with _cache_lock:
        _cache.setdefault(key, contract)
        _text_by_conid.setdefault(contract.conId, key)


def _resolve_combo(spec: ComboSpec, key: str, timeout: float | None) -> Contract:
    parts = [(resolve(x.leg.text, timeout), x.ratio) for x in spec.legs]
    ids = [c.conId for c, _ in parts]
    if len(set(ids)) != len(ids):
        raise ContractSyntaxError(f"combo {key!r} names one contract in two legs",
                                  hint="give each contract once, with its total ratio")
    symbols = sorted({c.symbol for c, _ in parts})
    bag = Contract(secType="BAG", symbol=parts[0][0].symbol if len(symbols) == 1 else ",".join(symbols),
                   exchange="SMART", currency=parts[0][0].currency or spec.currency,
                   comboLegs=[ComboLeg(conId=c.conId, ratio=abs(r), action="BUY" if r > 0 else "SELL",
                                       exchange="SMART") for c, r in parts])
    with _cache_lock:
        _cache[key] = bag
        _combo_legs[key] = parts
    return bag


def combo_legs(contract: str | Contract) -> list[tuple[Contract, int]]:
    """The legs of a combo as (qualified leg contract, signed ratio); [] for a single contract."""
    bag = resolve(contract)
    if bag.secType != "BAG":
        return []
    key = contract_text(bag)
    with _cache_lock:
        parts = _combo_legs.get(key)
    if parts is None:
        parts = [(resolve(f"conid={leg.conId}"), leg.ratio if leg.action == "BUY" else -leg.ratio)
                 for leg in bag.comboLegs]
    return parts


async def _resolve_async(ib, spec: ContractSpec, text: str) -> Contract:  # noqa: ANN001 - ib_async.IB
    details = await ib.reqContractDetailsAsync(spec.to_contract())
    if spec.sec_type == "FUT" and not details and len(spec.expiry) == 8:
        details = await ib.reqContractDetailsAsync(replace(spec, expiry=spec.expiry[:6]).to_contract())
    if not details:
        candidates = await _candidates(ib, spec.symbol or text)
        raise ContractNotFound(f"unknown contract {text!r}", candidates=candidates)
    if len(details) > 1:
        contracts = [d.contract for d in details]
        smart = [x for x in contracts if x.exchange == "SMART" and x.secType == spec.sec_type]
        if len(smart) == 1:
            return smart[0]
        names = sorted({contract_text(x) for x in contracts})
        if len(names) > 1:
            raise AmbiguousContract(f"contract {text!r} matches {len(details)} contracts", candidates=names[:10])
    return details[0].contract


async def _candidates(ib, symbol: str) -> list[str]:  # noqa: ANN001
    if not symbol:
        return []
    found: list[str] = []
    for probe in dict.fromkeys([symbol, symbol[:2], symbol[:1]]):
        try:
            descs = await ib.reqMatchingSymbolsAsync(probe)
        except Exception:
            descs = []
        found += [d.contract.symbol for d in descs or []]
        if found and probe == symbol:
            break
    unique = list(dict.fromkeys(found))
    close = difflib.get_close_matches(symbol.upper(), unique, n=5, cutoff=0.5)
    return close or unique[:5]
