"""ibxl: Interactive Brokers from Excel, notebooks and pandas."""

__version__ = "0.1.0"
