"""Contract text: every accepted form, canonical round trips, errors, and resolution."""

from __future__ import annotations

import pytest

import ibxl
from ibxl.contracts import ContractSpec, parse_contract

FORMS = {
    "AAPL": ContractSpec(symbol="AAPL", exchange="SMART"),
    "IBM@ISLAND": ContractSpec(symbol="IBM", exchange="ISLAND"),
    "MSFT@SMART/ISLAND": ContractSpec(symbol="MSFT", exchange="SMART", primary="ISLAND"),
    "BMO@SMART//////CAD": ContractSpec(symbol="BMO", exchange="SMART", currency="CAD"),
    "EUR.USD/CASH": ContractSpec(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"),
    "BTC.USD/CRYPTO": ContractSpec(symbol="BTC", sec_type="CRYPTO", exchange="PAXOS", currency="USD"),
    "sym=ES sec=FUT exch=CME exp=202612": ContractSpec(symbol="ES", sec_type="FUT", exchange="CME", expiry="202612"),
    "AAPL  261218C00150000": ContractSpec(symbol="AAPL", sec_type="OPT", exchange="SMART", expiry="20261218",
                                          strike=150.0, right="C", multiplier="100"),
    "AAPL 20261218 150 C": ContractSpec(symbol="AAPL", sec_type="OPT", exchange="SMART", expiry="20261218",
                                        strike=150.0, right="C", multiplier="100"),
    "ES 202612": ContractSpec(symbol="ES", sec_type="FUT", expiry="202612"),
    "conid=265598": ContractSpec(symbol="", sec_type="", currency="", con_id=265598),
}


@pytest.mark.parametrize(("text", "spec"), list(FORMS.items()))
def test_every_form_parses_and_round_trips(text, spec):
    parsed = parse_contract(text)
    assert parsed == spec
    assert parse_contract(parsed.text) == parsed
    assert parse_contract(parsed.text).text == parsed.text


def test_spxw_trading_class_and_lowercase():
    spec = parse_contract("spx 20261218 6000 p spxw")
    assert spec.trading_class == "SPXW" and spec.right == "P" and spec.text == "SPX 20261218 6000 P SPXW"


@pytest.mark.parametrize("bad", ["", "   ", "AAPL 2026 C", "sym=AAPL colour=red", "AAPL@SMART/X/NOPE",
                                 "AAPL/1/2/3/4/5/6/7", "sym=ES sec=FUT strike=abc"])
def test_bad_text_names_the_problem_and_the_forms(bad):
    with pytest.raises(ibxl.ContractSyntaxError) as exc:
        parse_contract(bad)
    assert "cannot read contract" in str(exc.value) and "accepted forms" in str(exc.value)


def test_resolve_and_did_you_mean(ibxl_sim):
    assert ibxl.resolve("AAPL").conId == 265598
    assert ibxl.resolve("EUR.USD/CASH").secType == "CASH"
    assert ibxl.resolve("conid=272093").symbol == "MSFT"
    with pytest.raises(ibxl.ContractNotFound) as exc:
        ibxl.resolve("APPL")
    assert "AAPL" in exc.value.candidates and "did you mean" in str(exc.value)


def test_ambiguous_contract_lists_candidates(ibxl_sim):
    with pytest.raises(ibxl.AmbiguousContract) as exc:
        ibxl.resolve("sym=ES sec=FUT exch=CME")
    assert len(exc.value.candidates) >= 2 and all(c.startswith("ES") for c in exc.value.candidates)


def test_canonical_text_of_resolved_contracts(ibxl_sim):
    for text in ["AAPL", "EUR.USD/CASH", "BTC.USD/CRYPTO"]:
        c = ibxl.resolve(text)
        assert ibxl.contract_text(c) == text
    chain = ibxl.expiries("SPY")
    opt = ibxl.resolve(f"SPY {chain[0]} 600 C")
    assert parse_contract(ibxl.contract_text(opt)).strike == 600
