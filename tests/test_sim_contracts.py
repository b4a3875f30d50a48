"""Contract requests through ib_async against the running gateway."""

from __future__ import annotations

import pytest
from ib_async import Contract, Forex, Future, Index, Option, Stock


def test_connect_reports_paper_account(ib):
    assert ib.managedAccounts() == ["DU1234567"]
    assert ib.client.serverVersion() == 176


def test_qualify_stock_gets_real_conid(ib):
    [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    assert aapl.conId == 265598
    assert aapl.primaryExchange == "NASDAQ"


def test_details_by_conid(ib):
    [d] = ib.reqContractDetails(Contract(conId=272093))
    assert d.contract.symbol == "MSFT"
    assert d.longName == "MICROSOFT CORP"
    assert d.minTick == 0.01
    assert d.tradingHours and d.liquidHours


def test_unknown_contract_gives_error_200(ib):
    errors = []
    ib.errorEvent += lambda reqId, code, msg, contract: errors.append((code, msg))
    assert ib.reqContractDetails(Stock("NOPE", "SMART", "USD")) == []
    assert errors and errors[0][0] == 200
    assert "No security definition" in errors[0][1]


def test_partial_spec_gives_several_matches(ib):
    details = ib.reqContractDetails(Future("ES", exchange="CME"))
    assert len(details) >= 4
    expiries = [d.contract.lastTradeDateOrContractMonth for d in details]
    assert expiries == sorted(expiries)


def test_option_contract_by_fields(ib):
    chains = ib.reqSecDefOptParams("AAPL", "", "STK", 265598)
    smart = next(c for c in chains if c.exchange == "SMART")
    expiry = sorted(smart.expirations)[-1]
    strike = sorted(smart.strikes)[len(smart.strikes) // 2]
    [opt] = ib.qualifyContracts(Option("AAPL", expiry, strike, "C", "SMART"))
    assert opt.conId > 0
    assert opt.multiplier == "100"
    assert opt.localSymbol.startswith("AAPL  ")


def test_spx_has_two_trading_classes(ib):
    chains = ib.reqSecDefOptParams("SPX", "", "IND", 416904)
    assert {c.tradingClass for c in chains} == {"SPX", "SPXW"}


def test_forex_index_and_crypto(ib):
    [eur] = ib.qualifyContracts(Forex("EURUSD"))
    assert eur.conId == 12087792 and eur.exchange == "IDEALPRO"
    [spx] = ib.qualifyContracts(Index("SPX", "CBOE"))
    assert spx.conId == 416904
    [btc] = ib.qualifyContracts(Contract(symbol="BTC", secType="CRYPTO", exchange="PAXOS", currency="USD"))
    assert btc.conId == 479624278


def test_matching_symbols_and_market_rule(ib):
    found = ib.reqMatchingSymbols("MSF")
    assert found and found[0].contract.symbol == "MSFT"
    assert "OPT" in found[0].derivativeSecTypes
    [inc] = ib.reqMarketRule(26)
    assert inc.increment == pytest.approx(0.01)
