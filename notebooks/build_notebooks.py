"""Write the notebooks in this folder, and the dashboard that ships in the package
(``ibxl/dashboard/dashboard.ipynb``), from their cell sources (run after editing the cells here).

    .venv/bin/python notebooks/build_notebooks.py [dashboard.ipynb ...]   # all, or the named ones

Cells marked ``# NBVAL_CHECK_OUTPUT`` have their expected output stored in the notebook; after a
rebuild, execute the notebook once and keep those outputs (nbval compares them in ``make test``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent
#: notebooks that ship inside the package (``ibxl demo`` serves the dashboard from there); the
#: others live in this folder
PACKAGED = {"dashboard.ipynb": HERE.parent / "ibxl" / "dashboard"}
CONNECT = '''import os

import ibxl

# the embedded paper gateway, unless IBXL_HOST/IBXL_PORT point at TWS, IB Gateway or `ibxl demo`'s gateway
client = ibxl.connect(sim=not os.environ.get("IBXL_PORT"))
ibxl.status()'''

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01-tour.ipynb": [
        ("md", "# ibxl tour\nConnect, look at quotes, pull history into pandas, draw a chart."),
        ("code", CONNECT),
        ("code", 'q = ibxl.quotes(["AAPL", "MSFT", "SPY", "EUR.USD/CASH"])\n'
                 'assert (q["bid"] < q["ask"]).all()\nq[["bid", "ask", "last", "change_pct", "volume"]]'),
        ("code", 'ibxl.quote("AAPL", "Bid"), ibxl.quote("AAPL", "ChangePct")'),
        ("code", 'bars = ibxl.history("AAPL", duration="6 M", bar_size="1 day")\n'
                 'assert list(bars.columns) == ["open", "high", "low", "close", "volume", "wap", "bar_count"]\n'
                 'assert bars.index.tz is not None\nbars.tail()'),
        ("code", 'import matplotlib.pyplot as plt\n\nax = bars["close"].plot(title="AAPL close", figsize=(8, 3))\n'
                 'plt.show()'),
        ("code", 'from ibxl.widgets import HistoryChart, QuoteBoard\n\nQuoteBoard(["AAPL", "MSFT", "NVDA"])'),
        ("code", 'HistoryChart("AAPL", duration="3 M")'),
    ],
    "02-scanners.ipynb": [
        ("md", "# Scanners\nWhat TWS can scan, a scan in pandas, and the scanner panel."),
        ("code", CONNECT),
        ("code", '# NBVAL_CHECK_OUTPUT\nparams = ibxl.scanner_parameters()\n'
                 'sorted(c for c in params["scan_codes"] if c.startswith("TOP_PERC"))'),
        ("code", 'gainers = ibxl.scanner("TOP_PERC_GAIN", {"priceAbove": 20}, rows=10)\n'
                 'assert 0 < len(gainers) <= 10 and list(gainers["rank"]) == list(range(1, len(gainers) + 1))\n'
                 '# every row carries its figures: last, change, % change (what this scan ranks by) and volume\n'
                 'print("ranked by", gainers.attrs["ranked_by"])\n'
                 'gainers[["rank", "symbol", "last", "change", "change_pct", "volume"]]'),
        ("code", 'from ibxl.widgets import ScannerPanel\n\nScannerPanel("MOST_ACTIVE", rows=10)'),
    ],
    "03-option-chains.ipynb": [
        ("md", "# Option chains\nCalls and puts with greeks, the smile, and the chain panel."),
        ("code", CONNECT),
        ("code", 'chain = ibxl.option_chain("SPY", expiries=2, strikes=8, open_interest=True)\n'
                 'assert chain["delta"].notna().all()\n'
                 'chain[["contract", "bid", "ask", "iv", "delta", "gamma", "open_interest", "greeks_source"]].head(10)'),
        ("md", "A chain fills in from the money outwards: `chain_stream` yields each partial frame."),
        ("code", 'for frame in ibxl.chain_stream("QQQ", expiries=1, strikes=10):\n'
                 '    print(f"{frame.attrs[\'loaded\']}/{frame.attrs[\'total\']} options, strikes "\n'
                 '          f"{frame[\'strike\'].min():g}-{frame[\'strike\'].max():g}")\n'
                 'assert frame.attrs["done"] and len(frame) == frame.attrs["total"]'),
        ("code", 'import matplotlib.pyplot as plt\n\nfor expiry, grp in chain[chain.right == "P"].groupby("expiry"):\n'
                 '    plt.plot(grp["strike"], grp["iv"], marker=".", label=expiry)\n'
                 'plt.legend()\nplt.title("SPY put IV smile")\nplt.show()'),
        ("code", 'from ibxl.widgets import OptionChainPanel\n\nOptionChainPanel("SPY", strikes=5)'),
    ],
    "04-account.ipynb": [
        ("md", "# Account and portfolio\nThe account summary, positions, allocation and risk."),
        ("code", CONNECT),
        ("code", 'summary = ibxl.account_summary()\nassert summary.loc["NetLiquidation", "value"] > 0\n'
                 'summary.loc[["NetLiquidation", "TotalCashValue", "BuyingPower", "InitMarginReq"]]'),
        ("code", 'ibxl.positions()'),
        ("code", 'from ibxl import analytics\n\nspy = ibxl.history("SPY", duration="1 Y")["close"]\n'
                 'm = analytics.risk_metrics(spy)\nassert -1 < m["max_drawdown"] <= 0\nm'),
        ("code", 'from ibxl.widgets import AccountPanel\n\nAccountPanel()'),
    ],
    "05-paper-orders.ipynb": [
        ("md", "# Paper orders\nTrading is off by default. Here we turn it on for the paper account only, "
               "place a bracket, cancel an order, and look at fills."),
        ("code", 'import os\n\nos.environ["IBXL_TRADING"] = "paper"  # never "live" without IBXL_ALLOW_LIVE=1'),
        ("code", CONNECT),
        ("code", 'assert ibxl.trading_mode() == "paper"\nask = ibxl.quotes("MSFT").loc["MSFT", "ask"]\n'
                 'r = ibxl.order("MSFT", "BUY", 10, "LMT", limit=round(ask * 1.002, 2),\n'
                 '               bracket=(round(ask * 1.02, 2), round(ask * 0.98, 2)), key="nb-bracket")\nr'),
        ("code", 'bid = ibxl.quotes("IBM").loc["IBM", "bid"]\n'
                 'resting = ibxl.order("IBM", "BUY", 5, "LMT", limit=round(bid * 0.97, 2), key="nb-resting")\n'
                 'again = ibxl.order("IBM", "BUY", 5, "LMT", limit=round(bid * 0.97, 2), key="nb-resting")\n'
                 'assert again.order_id == resting.order_id  # the same key never sends twice\n'
                 'ibxl.cancel("nb-resting")'),
        ("code", 'ibxl.orders()[["key", "contract", "side", "quantity", "order_type", "status", "filled"]]'),
        ("code", 'fills = ibxl.executions()\nassert fills["shares"].sum() >= 10\nfills'),
        ("code", 'from ibxl.widgets import OrderTicket\n\nOrderTicket("AAPL")'),
    ],
    "06-research.ipynb": [
        ("md", "# Research in plain pandas\nReturns, volatility, correlation, and a moving-average crossover "
               "backtest with costs, compared with buy and hold."),
        ("code", CONNECT),
        ("code", 'import pandas as pd\n\nsyms = ["AAPL", "MSFT", "SPY", "QQQ", "JPM"]\n'
                 'closes = pd.DataFrame({s: ibxl.history(s, duration="2 Y")["close"] for s in syms}).dropna()\n'
                 'rets = closes.pct_change().dropna()\nvol = rets.std() * 252 ** 0.5\n'
                 'assert (vol > 0.05).all() and (vol < 1.5).all()\nvol.round(3)'),
        ("code", 'rets.corr().round(2)'),
        ("code", 'from ibxl import analytics\n\npx = closes["SPY"]\nfast, slow, cost = px.rolling(20).mean(), px.rolling(100).mean(), 0.0005\n'
                 'position = (fast > slow).astype(float).shift(1).fillna(0)\n'
                 'trades = position.diff().abs().fillna(0)\n'
                 'strategy = position * px.pct_change().fillna(0) - trades * cost\n'
                 'curves = pd.DataFrame({"MA crossover": (1 + strategy).cumprod(),\n'
                 '                       "buy and hold": (1 + px.pct_change().fillna(0)).cumprod()})\n'
                 'summary = pd.DataFrame({c: analytics.risk_metrics(curves[c]) '
                 'for c in curves})\nassert set(summary.index) >= {"sharpe", "max_drawdown"}\nsummary.round(3)'),
        ("code", 'curves.plot(title="SPY: 20/100-day crossover with costs vs buy and hold", figsize=(8, 3));'),
    ],
    "07-strategies.ipynb": [
        ("md", "# Option strategies\nA named strategy is combo contract text: quote it, price its payoff at "
               "expiry and today, ask TWS for its margin, and trade it as one order whose legs fill together."),
        ("code", 'import os\n\nos.environ["IBXL_TRADING"] = "paper"  # never "live" without IBXL_ALLOW_LIVE=1'),
        ("code", CONNECT),
        ("code", 'import pandas as pd\nfrom ibxl.strategies import default_strikes\n\n'
                 'spot = ibxl.quotes("SPY").loc["SPY", "mid"]\n'
                 'soon = pd.Timestamp.now() + pd.Timedelta(days=14)\n'
                 'expiry = next(e for e in ibxl.expiries("SPY") if pd.Timestamp(e) >= soon)\n'
                 'listed = ibxl.strikes("SPY")\n'
                 'vertical = ibxl.strategy("vertical", "SPY", expiry=expiry,\n'
                 '                         strikes=default_strikes("vertical", listed, spot), right="C")\n'
                 'condor = ibxl.strategy("iron_condor", "SPY", expiry=expiry,\n'
                 '                       strikes=default_strikes("iron_condor", listed, spot))\n'
                 'print(vertical)\nprint(condor)'),
        ("code", 'q = ibxl.quotes([str(vertical), str(condor)])\n'
                 'assert (q["bid"] < q["ask"]).all() and q.loc[str(condor), "ask"] < 0  # the condor is a credit\n'
                 'q[["bid", "ask", "mid"]]'),
        ("code", 'table = ibxl.payoff(vertical)\ns = ibxl.strategy_summary(vertical)\n'
                 'assert abs(s["max_loss"] + s["cost"]) < 1e-6  # a debit spread risks its debit\n'
                 'table.plot(title=str(vertical), figsize=(8, 3));\n'
                 '{k: s[k] for k in ("cost", "max_profit", "max_loss", "breakevens", "delta", "theta")}'),
        ("code", 'spread = ibxl.what_if(str(condor), "BUY", 1, "LMT", round(q.loc[str(condor), "mid"], 2))\n'
                 'short_call = str(condor).split(", ")[2][3:]\n'
                 'naked = ibxl.what_if(short_call, "SELL", 1, "LMT", round(ibxl.quotes(short_call)["bid"].iloc[0], 2))\n'
                 'assert spread["init_margin_change"] < naked["init_margin_change"]\n'
                 'pd.DataFrame({"iron condor": spread, "naked short call": naked}).round(2)'),
        ("code", 'r = ibxl.order(str(condor), "BUY", 1, "LMT", round(q.loc[str(condor), "ask"], 2), key="nb-condor")\n'
                 'again = ibxl.order(str(condor), "BUY", 1, "LMT", round(q.loc[str(condor), "ask"], 2), key="nb-condor")\n'
                 'assert again.order_id == r.order_id  # the same key never sends twice\nr'),
        ("code", 'import time\n\ntime.sleep(1)\nfills = ibxl.executions().query("key == \'nb-condor\'")\n'
                 'assert len(fills) == 4  # one execution, with its commission, per leg\n'
                 'fills[["contract", "side", "shares", "price", "commission"]]'),
        ("code", 'from ibxl.widgets import StrategyPanel\n\nStrategyPanel("SPY", kind="iron_condor")'),
    ],
    "08-risk.ipynb": [
        ("md", "# Portfolio risk\nGreeks by position and in total, beta-weighted delta, a scenario grid of "
               "underlying moves × implied-vol shifts, value at risk, and every account of the login. "
               "First a small paper portfolio: SPY shares, an at-the-money SPY call and a short AAPL put."),
        ("code", 'import os\n\nos.environ["IBXL_TRADING"] = "paper"  # paper only: the keys below never send twice'),
        ("code", CONNECT),
        ("code", 'calls = ibxl.option_chain("SPY", expiries=2, strikes=1, right="C")\n'
                 'puts = ibxl.option_chain("AAPL", expiries=2, strikes=1, right="P")\n'
                 'call, put = calls.iloc[-2]["contract"], puts.iloc[-2]["contract"]\n'
                 'ibxl.order("SPY", "BUY", 100, "MKT", key="nb-risk-spy")\n'
                 'ibxl.order(call, "BUY", 2, "MKT", key="nb-risk-call")\n'
                 'ibxl.order(put, "SELL", 1, "MKT", key="nb-risk-put")\n'
                 'ibxl.positions()'),
        ("md", "## Greeks by position\nDelta is in units of the underlying (shares), dollar delta in dollars, "
               "vega per vol point, theta per day; `beta_delta` is the exposure in SPY shares."),
        ("code", 'r = ibxl.risk()\ntotal = r[r["contract"] == "Total"].iloc[0]\n'
                 'legs = r[r["contract"] != "Total"]\n'
                 'assert abs(total["delta"] - legs["delta"].sum()) < 1e-6\n'
                 'r[["contract", "quantity", "price", "market_value", "iv", "delta", "dollar_delta", "gamma",\n'
                 '   "vega", "theta", "beta", "beta_delta"]].round(3)'),
        ("md", "## Scenarios\nPortfolio P&L for moves of -20% … +20% (each underlying by its beta to SPY) "
               "and implied-vol shifts of -10 … +10 points, options repriced with Black–Scholes."),
        ("code", 'grid = ibxl.scenarios()\nassert grid.shape == (41, 21) and abs(grid.loc[0.0, 0.0]) < 1e-6\n'
                 'grid.iloc[::5, ::5].style.format("{:,.0f}").background_gradient(cmap="RdYlGn", axis=None)'),
        ("code", '# a week later, no move: what time decay does to the book\n'
                 'ibxl.scenarios([-0.05, 0.0, 0.05], [-5, 0, 5], days=7).round(0)'),
        ("md", "## Value at risk\nFrom a year of daily history of each underlying: historical (delta–gamma) "
               "and parametric (normal), with expected shortfall."),
        ("code", 'import pandas as pd\n\nv = pd.concat([ibxl.var(0.99, 1, "historical"), ibxl.var(0.99, 1, "parametric"),\n'
                 '               ibxl.var(0.95, 10, "historical")], ignore_index=True)\n'
                 'assert (v["var"] > 0).all() and (v["expected_shortfall"] >= v["var"]).all()\nv'),
        ("md", "## Every account\n`account=` takes one id, a list or \"All\" (a column or row per account "
               "and a total) on positions, portfolio, account_summary, pnl, orders, executions, risk, "
               "scenarios and var."),
        ("code", 'ibxl.managed_accounts(), ibxl.pnl("All")'),
        ("code", 'from ibxl.widgets import RiskPanel\n\nRiskPanel()'),
    ],
    "dashboard.ipynb": [
        ("md", "# ibxl dashboard"),
        ("code", CONNECT.replace("ibxl.status()", "")),
        ("code", 'import ipywidgets as W\n\n\n'
                 'def row(*panels: W.Widget) -> W.HBox:\n'
                 '    return W.HBox(list(panels), layout=W.Layout(flex_flow="row wrap", gap="32px"))'),
        ("code", 'from ibxl.widgets import QuoteBoard, ScannerPanel\n\n'
                 'row(QuoteBoard(["AAPL", "MSFT", "NVDA", "SPY", "QQQ", "EUR.USD/CASH", "BTC.USD/CRYPTO"]),\n'
                 '    ScannerPanel("TOP_PERC_GAIN", rows=8))'),
        ("code", 'from ibxl.widgets import OptionChainPanel\n\nOptionChainPanel("SPY", strikes=4)'),
        ("code", 'from ibxl.widgets import HistoryChart, NewsPanel\n\n'
                 'row(HistoryChart("SPY", duration="6 M"), NewsPanel("AAPL", n=6))'),
        ("code", 'from ibxl.widgets import AccountPanel, OrderTicket\n\nrow(AccountPanel(), OrderTicket("AAPL"))'),
    ],
}


def build(names: list[str] | None = None) -> None:
    """Write the named notebooks, or every one, without outputs (02's checked output is stored by
    running it once: ``jupyter nbconvert --to notebook --execute --inplace 02-scanners.ipynb``)."""
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                    for kind, src in cells]
        nbf.write(nb, PACKAGED.get(name, HERE) / name)


if __name__ == "__main__":
    build(sys.argv[1:])
