"""TWS error codes the gateway reports, and the exception its models raise."""

from __future__ import annotations

NO_VALID_ID = -1

# code -> TWS's own message text
MESSAGES: dict[int, str] = {
    100: "Max rate of messages per second has been exceeded.",
    101: "Max number of tickers has been reached.",
    102: "Duplicate ticker ID.",
    103: "Duplicate order id",
    104: "Can't modify a filled order.",
    105: "Order being modified does not match original order.",
    110: "The price does not conform to the minimum price variation for this contract.",
    135: "Can't find order with id =",
    161: "Cancel attempted when order is not in a cancellable state.",
    162: "Historical Market Data Service error message:",
    165: "Historical Market Data Service query message:",
    200: "No security definition has been found for the request",
    201: "Order rejected - reason:",
    202: "Order Canceled - reason:",
    300: "Can't find EId with tickerId:",
    309: "Max number (3) of market depth requests has been reached",
    317: "Market depth data has been RESET. Please empty deep book contents before applying any new entries.",
    320: "Error reading request:",
    321: "Error validating request:",
    322: "Error processing request:",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    354: "Requested market data is not subscribed.",
    366: "No historical data query found for ticker id:",
    420: "Invalid real-time query:",
    504: "Not connected",
    10089: "Requested market data requires additional subscription for API.",
    10090: "Part of requested market data is not subscribed.",
    10147: "OrderId that needs to be cancelled is not found.",
    10148: "OrderId that needs to be cancelled cannot be cancelled, state:",
    10167: "Displaying delayed market data.",
    10172: "Failed to request news article:",
    10276: "News feed is not allowed.",
    10168: "Requested market data is not subscribed. Delayed market data is not enabled.",
    10197: "No market data during competing live session",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefil",
}


class SimError(Exception):
    """A request the gateway refuses, carrying TWS's error code and message text."""

    def __init__(self, code: int, detail: str = "", *, req_id: int = NO_VALID_ID) -> None:
        base = MESSAGES.get(code, "")
        text = f"{base} {detail}".strip() if base and detail else (detail or base)
        super().__init__(text)
        self.code = code
        self.text = text
        self.req_id = req_id


class HistoryError(SimError):
    """A historical request TWS would refuse (error 162 or 321), worded as TWS words it: TWS glues its
    prefix ("Historical Market Data Service error message:") straight onto the cause."""

    def __init__(self, code: int, detail: str, *, req_id: int = NO_VALID_ID) -> None:
        super().__init__(code, detail, req_id=req_id)
        self.text = f"{MESSAGES.get(code, '')}{detail}"
        self.args = (self.text,)
