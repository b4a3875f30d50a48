"""A minimal program written with the official ``ibapi`` package, as IB's samples are:
an EWrapper subclass that records every callback, and EClient's reader loop on a thread."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from ibapi.client import EClient
from ibapi.wrapper import EWrapper


class RecordingApp(EWrapper, EClient):
    """Records callbacks by name: ``app.events["tickPrice"]`` is a list of argument tuples."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.events: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    # every callback the tests look at records its arguments
    def _rec(self, name: str, *args: Any) -> None:
        self.events[name].append(args)

    def nextValidId(self, orderId: int) -> None:
        self._rec("nextValidId", orderId)
        self.ready.set()

    def error(self, reqId, errorTime, errorCode, errorString, advancedOrderRejectJson=""):
        self._rec("error", reqId, errorCode, errorString)

    def contractDetails(self, reqId, contractDetails):
        self._rec("contractDetails", reqId, contractDetails)

    def contractDetailsEnd(self, reqId):
        self._rec("contractDetailsEnd", reqId)

    def tickPrice(self, reqId, tickType, price, attrib):
        self._rec("tickPrice", reqId, tickType, price)

    def tickSize(self, reqId, tickType, size):
        self._rec("tickSize", reqId, tickType, size)

    def historicalData(self, reqId, bar):
        self._rec("historicalData", reqId, bar)

    def historicalDataEnd(self, reqId, start, end):
        self._rec("historicalDataEnd", reqId, start, end)

    def securityDefinitionOptionParameter(self, reqId, exchange, underlyingConId, tradingClass, multiplier,
                                          expirations, strikes):
        self._rec("secDefOptParams", reqId, exchange, tradingClass, expirations, strikes)

    def securityDefinitionOptionParameterEnd(self, reqId):
        self._rec("secDefOptParamsEnd", reqId)

    def openOrder(self, orderId, contract, order, orderState):
        self._rec("openOrder", orderId, contract, order, orderState)

    def orderStatus(self, orderId, status, filled, remaining, avgFillPrice, permId, parentId,
                    lastFillPrice, clientId, whyHeld, mktCapPrice):
        self._rec("orderStatus", orderId, status, float(filled), float(remaining), avgFillPrice)

    def execDetails(self, reqId, contract, execution):
        self._rec("execDetails", reqId, contract, execution)

    def commissionAndFeesReport(self, report):
        self._rec("commission", report)

    def position(self, account, contract, position, avgCost):
        self._rec("position", account, contract.symbol, float(position), avgCost)

    def updateAccountValue(self, key, val, currency, accountName):
        self._rec("accountValue", key, val, currency, accountName)

    def pnl(self, reqId, dailyPnL, unrealizedPnL, realizedPnL):
        self._rec("pnl", reqId, dailyPnL, unrealizedPnL, realizedPnL)

    def managedAccounts(self, accountsList):
        self._rec("managedAccounts", accountsList)

    # ------------------------------------------------------------ test helpers
    def start(self, host: str, port: int, client_id: int, timeout: float = 10.0) -> RecordingApp:
        """Connect and run the reader loop on a thread; wait for nextValidId."""
        self.connect(host, port, client_id)
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("no nextValidId from the gateway")
        return self

    def wait_for(self, name: str, pred=lambda args: True, timeout: float = 10.0) -> tuple[Any, ...]:
        """Wait until a recorded callback of ``name`` satisfies ``pred``; returns its arguments."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for args in list(self.events[name]):
                if pred(args):
                    return args
            time.sleep(0.02)
        raise TimeoutError(f"no {name} callback matched within {timeout} s; got {self.events[name][-3:]}")

    def stop(self) -> None:
        """Disconnect and join the reader thread."""
        self.disconnect()
        if self._thread:
            self._thread.join(5)
