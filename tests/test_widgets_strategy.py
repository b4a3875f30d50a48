"""The StrategyPanel against the embedded gateway: combo quote, figures, payoff chart, what-if
margin, a bad leg shown plainly, the ticket's confirm step, and its lines released on close."""

from __future__ import annotations

import base64

from waiting import until as _until

from ibxl.live import registry


def test_strategy_panel_quotes_prices_and_sends_through_the_ticket(ibxl_sim, monkeypatch):
    from ibxl.widgets import StrategyPanel

    panel = StrategyPanel("SPY", kind="vertical")
    assert _until(lambda: panel.summary and panel.table is not None, timeout=30), panel.status.value
    assert panel.legs.value.startswith("+1 SPY ") and ", -1 SPY " in panel.legs.value
    assert _until(lambda: "ibxl-mid" in panel.quote.value)
    s = panel.summary
    assert s["max_loss"] < 0 < s["max_profit"] and len(s["breakevens"]) == 1
    assert "max profit" in panel.figures.value and "breakevens" in panel.figures.value
    assert _until(lambda: panel.plot.outputs, timeout=15)  # drawn just after the figures are set
    png = panel.plot.outputs[0]["data"]["image/png"]
    assert base64.b64decode(png)[:4] == b"\x89PNG"
    assert panel.ticket.contract.value == panel.legs.value and panel.ticket.limit.value > 0
    panel.what_if()
    assert _until(lambda: "initial margin change" in panel.margin.value)
    # the kind picker proposes strikes around the money and rebuilds the legs
    panel.kind.value = "iron_condor"
    assert panel.legs.value.count(",") == 3 and len(panel.strikes.value.split(",")) == 4
    panel.legs.value = "+1 SPY 20261218 600 C, -1 NOPE 20261218 610 C"
    panel.build()
    assert _until(lambda: "unknown contract" in panel.status.value)
    # legs picked one by one (as from a chain) build a combo too
    panel.legs.value = ""
    call = panel.summary["contract"].split(", ")[0][3:]
    panel.add_leg(call, 1)
    panel.add_leg(call.replace(" C", " P"), 1)
    assert panel.legs.value == f"+1 {call}, +1 {call.replace(' C', ' P')}"
    assert _until(lambda: panel.summary.get("contract") == panel.legs.value, timeout=15)
    panel.add_leg(call, 0)
    assert "must not be zero" in panel.status.value
        # sending needs the confirm tick, then goes out once
    panel.kind.value = "vertical"
    panel.build()
    assert _until(lambda: panel.ticket.contract.value == panel.legs.value, timeout=15)
    panel.ticket.send()
    assert "confirm" in panel.ticket.status.value
    monkeypatch.setenv("IBXL_TRADING", "paper")
    panel.ticket.limit.value = round(panel.summary["ask"], 2)
    panel.ticket.confirm.value = True
    panel.ticket.send()
    assert _until(lambda: "Filled" in panel.ticket.result.value or "Submitted" in panel.ticket.result.value)
    line = registry().line(panel.legs.value)
    held = line.refs
    panel.close()
    assert line.refs == held - 1
