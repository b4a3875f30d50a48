"""ibxl.sim: an embedded paper gateway that speaks the TWS API wire protocol.

Programs written for TWS or IB Gateway connect to it unchanged; only the port differs.

>>> from ibxl.sim import SimGateway           # doctest: +SKIP
>>> with SimGateway(seed=42) as gw:
...     print(gw.host, gw.port)
"""

from .config import Limits, SimConfig
from .runner import SimGateway
from .server import Gateway

__all__ = ["Gateway", "Limits", "SimConfig", "SimGateway"]
