"""ipywidgets panels over the ibxl data layer, for JupyterLab, Notebook 7, VS Code and Voila.

Each panel is one call, e.g. ``ibxl.widgets.QuoteBoard(["AAPL", "MSFT"])``; none blocks the
kernel, each redraws at most four times a second, and each releases its market-data lines
when closed.
"""

from .account import AccountPanel
from .history_chart import HistoryChart
from .news import NewsPanel
from .option_chain import OptionChainPanel
from .order_ticket import OrderTicket
from .quote_board import QuoteBoard
from .risk import RiskPanel
from .scanner import ScannerPanel
from .strategy import StrategyPanel

__all__ = ["AccountPanel", "HistoryChart", "NewsPanel", "OptionChainPanel", "OrderTicket", "QuoteBoard",
           "RiskPanel", "ScannerPanel", "StrategyPanel"]
