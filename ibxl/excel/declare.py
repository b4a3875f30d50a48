"""One declaration per worksheet function: ``@worksheet(...)`` records a function's Excel metadata
(volatile, spills, streams, help for each argument) beside its body; its docstring is its help text.

The classic xlwings UDFs and the xlwings Server custom functions are generated from ``FUNCTIONS``,
so adding a worksheet function is one decorated function in ``ibxl.excel`` and nothing else.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ibxl.errors import ContractNotFound, IBXLError


@dataclass(frozen=True)
class WorksheetFunction:
    """A worksheet function and what each Excel host needs to know to register it."""

    name: str
    fn: Callable[..., Any]
    volatile: bool = False
    spills: bool = False
    streams: bool = False
    args: dict[str, str] = field(default_factory=dict)
    #: for streaming functions: called with the cell's arguments when its stream starts, opens
    #: what the stream reads (market-data lines) and returns the function that gives it back
    hold: Callable[..., Callable[[], None]] | None = None

    @property
    def parameters(self) -> list[str]:
        """The argument names, in order (the same in every host)."""
        return list(inspect.signature(self.fn).parameters)

    def stub_signature(self) -> tuple[str, str]:
        """The parameter list of a generated host function (``"contract, field='Last'"``) and the
        names it passes on (``"contract, field"``), so that each host shows the argument names
        (xlwings reads the generated function's argspec)."""
        params = inspect.signature(self.fn).parameters.values()
        declared = ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
                             for p in params)
        return declared, ", ".join(p.name for p in params)

    @property
    def help(self) -> str:
        """The function's help text (its docstring, first paragraph joined on one line)."""
        doc = (self.fn.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


#: every worksheet function, by its Excel name (IB_QUOTE, ...), in declaration order
FUNCTIONS: dict[str, WorksheetFunction] = {}


def excel_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into cell text that names the problem (a cell never shows a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ContractNotFound as exc:
            hint = f" - did you mean {' or '.join(exc.candidates[:3])}?" if exc.candidates else ""
            return f"#N/A {exc.message}{hint}"
        except IBXLError as exc:
            return f"#N/A {exc.message}" + (f" - {exc.hint}" if exc.hint else "")
        except (ValueError, KeyError, TypeError) as exc:
            return f"#VALUE! {str(exc).strip(chr(39))}"
        except Exception as exc:  # a cell shows text, never a traceback
            return f"#N/A {type(exc).__name__}: {exc}"

    return wrapper


def worksheet(*, volatile: bool = False, spills: bool = False, streams: bool = False,
              args: dict[str, str] | None = None, hold: Callable[..., Callable[[], None]] | None = None,
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a worksheet function named as in Excel (``IB_...``).

    ``volatile``: recalculated on every recalculation (live values); ``spills``: returns a 2-D
    table; ``streams``: Office.js streams updates into the cell (the function is re-evaluated at
    most four times a second and the cell gets each new value); ``args``: help text of each
    argument, by parameter name; ``hold``: for streaming functions, opens
    what the stream reads when it starts and returns the release called when the cell goes.
    The function is wrapped with :func:`excel_safe`.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__
        if not name.startswith("IB_") or name != name.upper():
            raise ValueError(f"worksheet function {name!r} - name it as in Excel: IB_ and capitals")
        if name in FUNCTIONS and FUNCTIONS[name].fn.__module__ != fn.__module__:  # a reload may redeclare
            raise ValueError(f"worksheet function {name} is declared in {FUNCTIONS[name].fn.__module__} and "
                             f"{fn.__module__} - give one of them another name")
        helps = dict(args or {})
        params = list(inspect.signature(fn).parameters)
        unknown = [a for a in helps if a not in params]
        if unknown:
            raise ValueError(f"{name}: args= names {unknown}, which are not parameters of it ({params})")
        if hold is not None and not streams:
            raise ValueError(f"{name}: hold= is only for streaming functions (streams=True)")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"{name}: a worksheet function needs a docstring (its Excel help text)")
        safe = excel_safe(fn)
        FUNCTIONS[name] = WorksheetFunction(name, safe, volatile, spills, streams, helps, hold)
        return safe

    return register
