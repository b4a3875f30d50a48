"""ibxl's functions for Office.js (Excel on Windows, Mac and the web) through xlwings Server,
generated from the declarations in ``ibxl.excel.functions`` (``FUNCTIONS``).

xlwings Server loads this ``custom_functions`` package from ``XLWINGS_PROJECT_DIR``; with the
namespace ``IB`` the functions appear as ``=IB.QUOTE(...)``, ``=IB.HISTORY(...)``, ... (the Excel
name without its ``IB_``). Functions declared with ``streams=True`` stream: the function is
re-evaluated in a thread at most four times a second and the cell gets each new value; what the
stream holds (market-data lines) is given back when the cell is deleted or changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from xlwings.server import arg, func

from ibxl.excel.declare import WorksheetFunction
from ibxl.excel.functions import FUNCTIONS  # importing the functions module declares every function

#: a streaming cell gets at most this many updates a second
MAX_UPDATES_PER_SECOND = 4


def server_name(spec: WorksheetFunction) -> str:
    """The Office.js name of a worksheet function: ``IB_QUOTE`` -> ``QUOTE`` (shown as ``IB.QUOTE``)."""
    return spec.name.removeprefix("IB_")


async def stream(spec: WorksheetFunction, args: tuple[Any, ...]) -> AsyncIterator[Any]:
    """Re-evaluate ``spec`` at most ``MAX_UPDATES_PER_SECOND`` times a second and yield each new value,
    holding what ``spec.hold`` opens until the stream is cancelled (the cell was deleted or changed)."""
    release: Callable[[], None] | None = None
    try:
        if spec.hold is not None:
            try:
                release = await asyncio.to_thread(spec.hold, *args)
            except Exception:  # the function itself shows the problem as cell text
                release = None
        last: Any = object()
        while True:
            value = await asyncio.to_thread(spec.fn, *args)
            if value != last:
                last = value
                yield value
            await asyncio.sleep(1.0 / MAX_UPDATES_PER_SECOND)
    finally:
        if release is not None:
            release()  # give the line back at once


def custom_function(spec: WorksheetFunction) -> Any:
    """The xlwings Server function of one declared worksheet function (same arguments and help)."""
    params, names = spec.stub_signature()
    name = server_name(spec)
    namespace: dict[str, Any] = {"_spec": spec, "_stream": stream}
    if spec.streams:
        code = (f"async def {name}({params}):\n"
                f"    async for value in _stream(_spec, ({names}{',' if names else ''})):\n"
                f"        yield value\n")
    else:
        code = f"def {name}({params}):\n    return _spec.fn({names})\n"
    exec(code, namespace)  # names are declared ones
    fn = namespace[name]
    fn.__doc__ = spec.help
    fn.__module__ = __name__
    for param in reversed(spec.parameters):
        fn = arg(param, doc=spec.args.get(param, param))(fn)
    # Office.js streaming functions cannot be volatile: they push their own updates
    return func(fn) if spec.streams or not spec.volatile else func(volatile=True)(fn)


def _register() -> list[str]:
    names = []
    for spec in FUNCTIONS.values():
        name = server_name(spec)
        globals()[name] = custom_function(spec)
        names.append(name)
    return names


__all__ = _register()
