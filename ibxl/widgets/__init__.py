"""ipywidgets panels over the ibxl data layer, for JupyterLab, Notebook 7, VS Code and Voila.

Each panel is one call, e.g. ``ibxl.widgets.QuoteBoard(["AAPL", "MSFT"])``; none blocks the
kernel, each redraws at most four times a second, and each releases its market-data lines
when closed.
"""
