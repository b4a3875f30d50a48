"""ibxl's exceptions: every failure names the problem, carries IB's code when there is one,
and a plain-language hint for the fix."""

from __future__ import annotations

#: plain-language hints for IB error codes users meet most
HINTS: dict[int, str] = {
    100: "too many messages per second; ibxl's pacer should prevent this, so report it if you see it",
    101: "too many market-data lines open; close some quotes or panels (ibxl evicts idle lines first)",
    162: "historical pacing violation; the request bypassed ibxl's scheduler (use ibxl.history)",
    200: "no such contract; check the symbol, security type and exchange",
    201: "the order was rejected; see the message for TWS's reason",
    321: "the request had an invalid field; see the message",
    326: "that client id is in use by another API connection to this TWS; pick another with IBXL_CLIENT_ID or "
    "client_id=, or let every process share one connection through the hub (ibxl.connect() with defaults)",
    354: "no market-data subscription for this contract",
    502: "is TWS or IB Gateway running with the API enabled on that host and port? "
    "(TWS: File > Global Configuration > API > Settings; or use ibxl.connect(sim=True))",
    504: "not connected; call ibxl.connect() first",
    1100: "connectivity between TWS and IB's servers was lost; ibxl keeps retrying",
}


#: TWS's informational messages (market-data farm connected, ...): never an error of a request
INFO_CODES: frozenset[int] = frozenset({2104, 2106, 2107, 2108, 2119, 2158, 10167})


class IBXLError(Exception):
    """Base class of ibxl's errors: ``code`` (IB's, or 0), ``message`` and ``hint``."""

    def __init__(self, message: str, *, code: int = 0, hint: str = "") -> None:
        self.code = code
        self.message = message
        self.hint = hint or HINTS.get(code, "")
        text = f"{message} (IB error {code})" if code else message
        super().__init__(f"{text}; {self.hint}" if self.hint else text)


class NotConnected(IBXLError):
    """No connection to TWS, IB Gateway or the embedded gateway."""


class RequestTimeout(IBXLError):
    """A request got no answer within its timeout."""


class IBError(IBXLError):
    """TWS answered a request with an error code."""


class ContractNotFound(IBXLError):
    """No contract matches the text; ``candidates`` lists near matches."""

    def __init__(self, message: str, *, candidates: list[str] | None = None, code: int = 200) -> None:
        self.candidates = list(candidates or [])
        hint = f"did you mean {' or '.join(self.candidates[:5])}?" if self.candidates else ""
        super().__init__(message, code=code, hint=hint)


class AmbiguousContract(ContractNotFound):
    """Several contracts match the text; ``candidates`` lists them in canonical text form."""

    def __init__(self, message: str, *, candidates: list[str] | None = None) -> None:
        super().__init__(message, candidates=candidates, code=0)
        if self.candidates:
            self.hint = "be more specific, e.g. " + " or ".join(self.candidates[:5])
            self.args = (f"{message}; {self.hint}",)


class ContractSyntaxError(IBXLError, ValueError):
    """Contract text that cannot be parsed; the message shows the accepted forms."""


class TradingDisabled(IBXLError):
    """An order was refused because trading is off, or live trading is not allowed."""


class OrderRejected(IBXLError):
    """An order was refused by ibxl's limits or by TWS."""
