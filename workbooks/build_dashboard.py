"""Build workbooks/ibxl-dashboard.xlsx, the ready dashboard of ibxl worksheet functions.

    .venv/bin/python workbooks/build_dashboard.py [output.xlsx]

Sheets: Quotes (live board and a dependent spread column), Prices (one contract of each kind), History (bars
and a chart), Chain, Account (figures and positions), Orders (a blotter whose arm switches are all FALSE), Strategy
(a vertical spread built from the chain: its combo quote, payoff table and a disarmed order), Risk (greeks by
position, VaR and a scenario heat map), Status,
and the xlwings.conf sheet classic Excel reads to import the UDFs. Tables use array formulas
over fixed ranges, which every Excel version (and a formula engine) evaluates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.formula import ArrayFormula

HERE = Path(__file__).parent
OUTPUT = HERE / "ibxl-dashboard.xlsx"
CONTRACTS = ["AAPL", "MSFT", "NVDA", "SPY", "QQQ", "JPM", "EUR.USD/CASH", "BTC.USD/CRYPTO"]
FIELDS = ["Bid", "Ask", "Last", "Change", "ChangePct", "Volume"]
#: one contract of each kind, priced by =IB_QUOTE(contract) with no field (the option is the chain's first call)
KINDS = [("stock", "AAPL"), ("forex", "EUR.USD/CASH"), ("index", "SPX@CBOE//IND"), ("future", "ES 202612"),
         ("option", '=INDEX(IB_CHAIN("AAPL","","C",1),2,1)'), ("crypto", "BTC.USD/CRYPTO")]
BOLD = Font(bold=True)
HEADER = PatternFill("solid", fgColor="DDEBF7")


def _header(ws, row: int, values: list[str]) -> None:  # noqa: ANN001
    for col, value in enumerate(values, start=1):
        c = ws.cell(row=row, column=col, value=value)
        c.font, c.fill = BOLD, HEADER


#: where the Risk sheet's tables go (fixed ranges for array formulas)
RISK_TABLE = "A4:R16"
VAR_TABLE = "A19:G20"
SCENARIO_TABLE = "A23:V64"
SCENARIO_VALUES = "B24:V64"


def _risk_sheet(ws) -> None:  # noqa: ANN001 - an openpyxl worksheet
    """Greeks by position, VaR, and the scenario grid as a red (loss) to green (gain) heat map."""
    from openpyxl.formatting.rule import ColorScaleRule

    ws["A1"], ws["C1"] = "Account", "blank: the connection's account; an id, \"All\" or \"DU1,DU2\""
    ws["A1"].font = BOLD
    ws["A3"], ws["A18"] = "Risk by position", "Value at risk (99%, 1 day)"
    ws["A22"] = "Scenario P&L: underlying move (rows) x implied-vol shift (columns, vol points)"
    for ref in ("A3", "A18", "A22"):
        ws[ref].font = BOLD
    ws["A4"] = ArrayFormula(RISK_TABLE, "=IB_RISK(B1)")
    ws["A19"] = ArrayFormula(VAR_TABLE, "=IB_VAR(0.99,1,B1)")
    ws["A23"] = ArrayFormula(SCENARIO_TABLE, '=IB_SCENARIOS("","",0,B1)')
    ws.conditional_formatting.add(SCENARIO_VALUES, ColorScaleRule(
        start_type="min", start_color="F8696B", mid_type="num", mid_value=0, mid_color="FFFFFF",
        end_type="max", end_color="63BE7B"))
    for row in ws.iter_rows(min_row=24, max_row=64, min_col=1, max_col=1):
        row[0].number_format = "0%"
    for row in ws.iter_rows(min_row=24, max_row=64, min_col=2, max_col=22):
        for c in row:
            c.number_format = "#,##0"
    ws.column_dimensions["A"].width = 14


def build(path: Path = OUTPUT) -> Path:
    """Write the dashboard workbook and return its path."""
    wb = Workbook()
    q = wb.active
    q.title = "Quotes"
    _header(q, 1, ["Contract", *FIELDS, "Spread"])
    for r, contract in enumerate(CONTRACTS, start=2):
        q.cell(row=r, column=1, value=contract)
        for c in range(2, 2 + len(FIELDS)):
            col = q.cell(row=1, column=c).column_letter
            q.cell(row=r, column=c, value=f"=IB_QUOTE($A{r},{col}$1)")
        q.cell(row=r, column=2 + len(FIELDS), value=f"=C{r}-B{r}")
    q.column_dimensions["A"].width = 18

    pr = wb.create_sheet("Prices")
    _header(pr, 1, ["Kind", "Contract", "Price"])
    for r, (kind, contract) in enumerate(KINDS, start=2):
        pr.cell(row=r, column=1, value=kind)
        pr.cell(row=r, column=2, value=contract)
        pr.cell(row=r, column=3, value=f"=IB_QUOTE(B{r})")
    pr.column_dimensions["B"].width = 22

    h = wb.create_sheet("History")
    h["A1"], h["B1"], h["C1"], h["D1"] = "Contract", "AAPL", "Duration", "1 M"
    h["A3"] = ArrayFormula("A3:F24", '=IB_HISTORY(B1,D1,"1 day")')
    chart = LineChart()
    chart.title, chart.y_axis.title = "AAPL close", "price"
    chart.add_data(Reference(h, min_col=5, min_row=3, max_row=24), titles_from_data=True)
    h.add_chart(chart, "H3")

    ch = wb.create_sheet("Chain")
    ch["A1"], ch["B1"] = "Underlying", "SPY"
    ch["A3"] = ArrayFormula("A3:M10", '=IB_CHAIN(B1,"","C",3)')

    a = wb.create_sheet("Account")
    for r, tag in enumerate(["NetLiquidation", "TotalCashValue", "BuyingPower", "InitMarginReq"], start=1):
        a.cell(row=r, column=1, value=tag).font = BOLD
        a.cell(row=r, column=2, value=f'=IB_ACCOUNT("{tag}")')
    a["A5"], a["B5"] = "Margin used", "=B4/B1"
    a["A7"] = ArrayFormula("A7:F9", "=IB_POSITIONS()")

    o = wb.create_sheet("Orders")
    _header(o, 1, ["Key", "Contract", "Side", "Qty", "Type", "Limit", "Stop", "TIF", "Arm", "Status"])
    blotter = [("demo-aapl-buy", "AAPL", "BUY", 10, "LMT", "=ROUND(Quotes!B2*0.98,2)"),
               ("demo-msft-buy", "MSFT", "BUY", 5, "LMT", "=ROUND(Quotes!B3*0.98,2)")]
    for r, (key, contract, side, qty, kind, limit) in enumerate(blotter, start=2):
        for c, v in enumerate([key, contract, side, qty, kind, limit, None, "DAY", False], start=1):
            o.cell(row=r, column=c, value=v)
        o.cell(row=r, column=10, value=f"=IB_ORDER(A{r},B{r},C{r},D{r},E{r},F{r},G{r},H{r},I{r})")
    o["A5"] = "Arm switches are FALSE: set one to TRUE by hand (with trading enabled) to send that order."

    _strategy_sheet(wb)
    _risk_sheet(wb.create_sheet("Risk"))

    s = wb.create_sheet("Status")
    s["A1"] = ArrayFormula("A1:B10", "=IB_STATUS()")

    conf = wb.create_sheet("xlwings.conf")
    conf["A1"], conf["B1"] = "UDF Modules", "ibxl.excel.classic"
    conf["A2"], conf["B2"] = "Interpreter", ""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _strategy_sheet(wb: Workbook) -> None:
    """A vertical call spread on the Chain sheet's underlying: the at-the-money strike and the one
    two rows up the chain, its live combo quote, its payoff and an order whose arm is FALSE."""
    st = wb.create_sheet("Strategy")
    rows = [("Kind", "vertical"), ("Underlying", "=Chain!B1"), ("Expiry", "=Chain!B7"), ("Strikes", "=Chain!C7"),
            ("Right", "C")]
    for r, (label, value) in enumerate(rows, start=1):
        st.cell(row=r, column=1, value=label).font = BOLD
        st.cell(row=r, column=2, value=value)
    st["C4"] = "=Chain!C9"
    st["A7"], st["B7"] = "Combo", "=IB_STRATEGY(B1,B2,B3,B4:C4,B5)"
    for r, field in enumerate(["Bid", "Ask", "Mid"], start=8):
        st.cell(row=r, column=1, value=field).font = BOLD
        st.cell(row=r, column=2, value=f'=IB_QUOTE($B$7,"{field}")')
    _header(st, 12, ["Key", "Side", "Qty", "Type", "Limit", "Arm", "Status"])
    for c, v in enumerate(["demo-vertical", "BUY", 1, "LMT", "=ROUND(B10,2)", False], start=1):
        st.cell(row=13, column=c, value=v)
    st["G13"] = "=IB_ORDER(A13,$B$7,B13,C13,D13,E13,\"\",\"DAY\",F13)"
    st["A15"] = ArrayFormula("A15:C36", "=IB_PAYOFF(B7,\"\",\"\",21)")
    st.column_dimensions["B"].width = 48
    chart = LineChart()
    chart.title, chart.y_axis.title = "Payoff of one spread", "P&L"
    chart.add_data(Reference(st, min_col=2, max_col=3, min_row=15, max_row=36), titles_from_data=True)
    chart.set_categories(Reference(st, min_col=1, min_row=16, max_row=36))
    st.add_chart(chart, "E15")


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
