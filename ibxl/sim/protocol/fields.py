"""Reading typed fields from an incoming message, with errors that name the field."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

UNSET_INT = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308


class BadField(ValueError):
    """An incoming field that is missing or cannot be read as its type."""


@dataclass
class FieldReader:
    """A cursor over the fields of one incoming message (after the message id)."""

    fields: list[str]
    pos: int = 0
    name: str = field(default="message")

    def _next(self, what: str) -> str:
        if self.pos >= len(self.fields):
            raise BadField(f"{self.name}: missing field '{what}' (message too short)")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def peek(self) -> str:
        """The next field without consuming it ("" at the end)."""
        return self.fields[self.pos] if self.pos < len(self.fields) else ""

    def str(self, what: str = "string") -> str:
        """The next field as text."""
        return self._next(what)

    # from here on `str`, `int`, ... in class scope are these methods: annotations name the builtins
    def int(self, what: builtins.str = "integer", default: builtins.int | None = None) -> builtins.int:
        """The next field as an integer; empty gives ``default`` (or an error if none)."""
        raw = self._next(what)
        if raw == "":
            if default is None:
                raise BadField(f"{self.name}: field '{what}' is empty, expected an integer")
            return default
        try:
            return int(raw)
        except ValueError:
            try:
                as_float = float(raw)
            except ValueError:
                raise BadField(f"{self.name}: field '{what}'={raw[:30]!r} is not an integer") from None
            if as_float.is_integer():
                return int(as_float)
            raise BadField(f"{self.name}: field '{what}'={raw[:30]!r} is not an integer") from None

    def float(self, what: builtins.str = "number", default: builtins.float | None = 0.0) -> builtins.float:
        """The next field as a float; empty (or IB's 'unset' max double) gives ``default``."""
        raw = self._next(what)
        if raw == "":
            if default is None:
                raise BadField(f"{self.name}: field '{what}' is empty, expected a number")
            return default
        if raw.lower() in ("infinity", "inf"):
            return float("inf")
        try:
            return float(raw)
        except ValueError:
            raise BadField(f"{self.name}: field '{what}'={raw[:30]!r} is not a number") from None

    def bool(self, what: builtins.str = "flag") -> builtins.bool:
        """The next field as a boolean (0/1, empty is False)."""
        raw = self._next(what)
        if raw in ("", "0", "false", "False"):
            return False
        if raw in ("1", "true", "True"):
            return True
        try:
            return int(raw) != 0
        except ValueError:
            raise BadField(f"{self.name}: field '{what}'={raw[:30]!r} is not a 0/1 flag") from None

    def skip(self, n: builtins.int = 1) -> None:
        """Skip ``n`` fields (that must exist)."""
        for _ in range(n):
            self._next("skipped field")

    def rest(self) -> list[builtins.str]:
        """All remaining fields."""
        out = self.fields[self.pos :]
        self.pos = len(self.fields)
        return out

    @property
    def remaining(self) -> builtins.int:
        """How many fields are left."""
        return len(self.fields) - self.pos

    def tag_values(self, what: builtins.str = "options") -> list[tuple[builtins.str, builtins.str]]:
        """A TWS 'TagValue list' encoded as one 'tag=value;tag=value;' field."""
        raw = self._next(what)
        out: list[tuple[str, str]] = []
        for part in raw.split(";"):
            if not part:
                continue
            tag, _, value = part.partition("=")
            out.append((tag, value))
        return out
