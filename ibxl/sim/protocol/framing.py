"""Length-prefixed frames of NUL-terminated text fields, and the API handshake."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: TWS refuses frames larger than this (the API's own limit, 0xFFFFFF bytes).
MAX_FRAME_BYTES = 0xFFFFFF
HANDSHAKE_PREFIX = b"API\0"
_LENGTH = struct.Struct(">I")
_VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$")


class FrameError(ValueError):
    """A frame or handshake that violates the wire format; the connection must be closed."""


def format_field(value: object) -> str:
    """Render one outgoing field the way TWS does (bools as 0/1, None as empty)."""
    kind = type(value)
    if kind is str:  # the common cases first: this runs for every field of every message
        return value  # type: ignore[return-value]
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        value = float(value)  # numpy floats repr as "np.float64(...)"
        if value != value:  # NaN means "no value" on the wire
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
        return repr(value)
    return str(value)


def encode_frame(fields: Iterable[object]) -> bytes:
    """Encode a message (a sequence of fields) as one length-prefixed frame."""
    payload = "".join(format_field(f) + "\0" for f in fields).encode()
    return _LENGTH.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: feed bytes, iterate complete messages as lists of str fields."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> Iterator[list[str]]:
        """Add received bytes and yield every message they complete."""
        self._buf += data
        while len(self._buf) >= 4:
            (size,) = _LENGTH.unpack_from(self._buf)
            if size > self._max:
                raise FrameError(f"frame of {size} bytes exceeds the {self._max}-byte limit")
            if size == 0:
                raise FrameError("empty frame")
            if len(self._buf) < 4 + size:
                return
            raw = bytes(self._buf[4 : 4 + size])
            del self._buf[: 4 + size]
            yield split_fields(raw)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)


def split_fields(raw: bytes) -> list[str]:
    """Split a frame payload into fields; every field must end with NUL."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"frame is not valid UTF-8 at byte {exc.start}") from None
    if not text.endswith("\0"):
        raise FrameError("frame does not end with a NUL field terminator")
    return text[:-1].split("\0")


@dataclass(frozen=True)
class Handshake:
    """What the client offered in its opening message."""

    min_version: int
    max_version: int
    options: str


def parse_handshake(payload: bytes) -> Handshake:
    """Parse the length-prefixed version range that follows ``API\\0``."""
    try:
        text = payload.decode("ascii").rstrip("\0")
    except UnicodeDecodeError:
        raise FrameError("handshake is not ASCII") from None
    m = _VERSION_RANGE.match(text)
    if not m:
        raise FrameError(f"handshake {text[:40]!r} is not of the form 'vMIN..MAX'")
    lo = int(m.group(1))
    hi = int(m.group(2) or m.group(1))
    if lo > hi:
        raise FrameError(f"handshake version range v{lo}..{hi} is empty")
    return Handshake(lo, hi, (m.group(3) or "").strip())
