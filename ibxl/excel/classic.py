"""ibxl's functions for classic desktop Excel (Windows and Mac) as xlwings UDFs, generated from the
declarations in ``ibxl.excel.functions`` (``FUNCTIONS``).

Import this module from the workbook's xlwings settings (``UDF Modules: ibxl.excel.classic``)
and click "Import Functions" in the xlwings ribbon, or run ``ibxl excel install``. Quote cells are
volatile; a one-second timer (see docs/excel.md) recalculates only ibxl's cells, and every
recalculation reads the quote cache, so it is cheap.

Table functions return plain 2-D values, which Excel with dynamic arrays (Microsoft 365, Excel
2021 and later) spills by itself. For older Excel, the setting ``excel_legacy_arrays`` (or
``IBXL_EXCEL_LEGACY_ARRAYS=1``) registers the non-volatile table functions with xlwings'
``expand="table"``, which resizes an array formula after each calculation; volatile functions
never get it (the resize fights their recalculation).
"""

from __future__ import annotations

from typing import Any

import xlwings as xw

from ibxl.config import load

from .declare import WorksheetFunction
from .functions import FUNCTIONS  # importing the functions module declares every function


def legacy_arrays() -> bool:
    """True when table functions are registered with xlwings' legacy resize (Excel before 2021)."""
    return load().excel_legacy_arrays


def uses_legacy_resize(spec: WorksheetFunction, legacy: bool) -> bool:
    """Whether a function is registered with ``expand="table"``: only non-volatile tables, only
    when ``legacy`` is on."""
    return legacy and spec.spills and not spec.volatile


def udf(spec: WorksheetFunction, legacy: bool = False) -> Any:
    """The xlwings UDF of one declared worksheet function (same name, arguments and help)."""
    # an explicit signature, so that Excel shows the argument names (xlwings reads the argspec)
    params, names = spec.stub_signature()
    namespace: dict[str, Any] = {"_target": spec.fn}
    exec(f"def {spec.name}({params}):\n    return _target({names})\n", namespace)  # names are declared ones
    fn = namespace[spec.name]
    fn.__doc__ = spec.help
    fn.__module__ = __name__
    for name in reversed(spec.parameters):
        fn = xw.arg(name, doc=spec.args.get(name, name))(fn)
    if uses_legacy_resize(spec, legacy):  # @xw.ret sits under @xw.func, as in xlwings' own examples
        fn = xw.ret(expand="table")(fn)
    return xw.func(volatile=spec.volatile)(fn)


def _register() -> list[str]:
    legacy = legacy_arrays()
    for spec in FUNCTIONS.values():
        globals()[spec.name] = udf(spec, legacy)
    return list(FUNCTIONS)


__all__ = _register()
