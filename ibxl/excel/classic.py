"""ibxl's functions for classic desktop Excel (Windows and Mac) as xlwings UDFs.

Import this module from the workbook's xlwings settings (``UDF Modules: ibxl.excel.classic``)
and click "Import Functions" in the xlwings ribbon, or run ``ibxl excel install``. Quote cells are
volatile; a one-second timer (see docs/excel.md) recalculates only ibxl's cells, and every
recalculation reads the quote cache, so it is cheap.
"""

from __future__ import annotations

import inspect
from typing import Any

import xlwings as xw

from . import functions as F

#: name -> (volatile, returns an array)
REGISTRATION: dict[str, tuple[bool, bool]] = {
    "IB_QUOTE": (True, False), "IB_QUOTES": (True, True), "IB_HISTORY": (False, True), "IB_CHAIN": (False, True),
    "IB_CONTRACT": (False, True), "IB_POSITIONS": (True, True), "IB_PORTFOLIO": (True, True),
    "IB_ACCOUNT": (True, True), "IB_PNL": (True, True), "IB_ORDERS": (True, True), "IB_EXECUTIONS": (True, True),
    "IB_SCAN": (True, True), "IB_NEWS": (False, True), "IB_STATUS": (True, True), "IB_ORDER": (True, False),
    "IB_CANCEL": (False, False),
}


def _udf(name: str) -> Any:
    volatile, array = REGISTRATION[name]
    target = F.FUNCTIONS[name]

    # an explicit signature, so that Excel shows the argument names (xlwings reads the argspec)
    sig = inspect.signature(target)
    params = ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                       for p in sig.parameters.values())
    names = ", ".join(sig.parameters)
    namespace: dict[str, Any] = {"_target": target}
    exec(f"def {name}({params}):\n    return _target({names})\n", namespace)  # noqa: S102 - names are ours
    udf = namespace[name]
    udf.__doc__ = target.__doc__
    if array:  # @xw.ret sits under @xw.func, as in xlwings' own examples
        udf = xw.ret(expand="table")(udf)
    return xw.func(volatile=volatile)(udf)


for _name in REGISTRATION:
    globals()[_name] = _udf(_name)

__all__ = list(REGISTRATION)
