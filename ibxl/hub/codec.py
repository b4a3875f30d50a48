"""What crosses between a process and the hub, and how it is signed.

Every message is a list of frames: a keyed BLAKE3 signature over all the other frames, a JSON
header, a JSON body, and binary buffers. Nothing is decoded before its signature checks out. The
body is plain JSON with a few tagged forms (tuples, timestamps, ibxl's dataclasses, exceptions);
DataFrames travel column by column in binary buffers, never row by row: numeric, boolean and
datetime columns (bars, quotes, greeks) as their raw arrays (no conversion on either side), any
other frame as an Arrow IPC stream. Quote updates are fixed binary records, one batch (all the
lines that changed together) per message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hmac
import importlib
import io
import json
import operator
import struct
import sys
from collections.abc import Container, Sequence
from typing import Any

import blake3
import numpy as np
import pandas as pd

from .. import errors as _errors
from ..live import NUMERIC_FIELDS

#: modules whose dataclasses may be rebuilt from a message (ibxl's own and ib_async's records)
DATACLASS_MODULES = ("ibxl.", "ib_async.")
#: exceptions re-raised as themselves on the calling side
BUILTIN_ERRORS: dict[str, type[Exception]] = {
    e.__name__: e for e in (ValueError, KeyError, TypeError, LookupError, IndexError, RuntimeError,
                            TimeoutError, NotImplementedError, ArithmeticError, ZeroDivisionError)}


class BadSignature(Exception):
    """A message whose signature does not match the key: it is dropped unread."""


# ------------------------------------------------------------ signing
#: a frame as it arrives: bytes, or a view of a large frame's buffer (not copied)
Frame = bytes | memoryview
#: separates ibxl's signing key from any other use of the key file's bytes (BLAKE3 key derivation)
KEY_CONTEXT = "ibxl hub 2026-11 message signing"


@functools.lru_cache(maxsize=8)
def _mac_key(key: bytes) -> bytes:
    return blake3.blake3(key, derive_key_context=KEY_CONTEXT).digest()


def sign(key: bytes, frames: Sequence[Frame]) -> bytes:
    """The keyed BLAKE3 hash (a MAC) of the frames, each prefixed by its length.

    BLAKE3 rather than Jupyter's HMAC-SHA256: it is as strong a MAC and several times faster, which
    matters because a history reply carries megabytes that are signed by the hub and checked here.
    """
    mac = blake3.blake3(key=_mac_key(key))
    for f in frames:
        mac.update(len(f).to_bytes(8, "little"))
        mac.update(f)
    return mac.digest()


def verify(key: bytes, signature: Frame, frames: Sequence[Frame]) -> None:
    """Raise BadSignature unless ``signature`` signs ``frames``."""
    if not hmac.compare_digest(sign(key, frames), bytes(signature)):
        raise BadSignature("message signature does not match the hub key")


# ------------------------------------------------------------ values
def _frame_bytes(df: pd.DataFrame) -> bytes | None:
    import pyarrow as pa

    if not all(isinstance(c, str) for c in df.columns) or df.columns.has_duplicates:
        return None
    try:
        table = pa.Table.from_pandas(df, preserve_index=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return None
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _frame_from(buf: Frame) -> pd.DataFrame:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(buf)).read_all().to_pandas()


def _plain_column(values: Any) -> tuple[dict[str, Any], Any] | None:
    """A numeric, boolean or datetime column as (meta, raw buffer), or None for other kinds."""
    dtype = values.dtype
    tz = None
    if isinstance(dtype, pd.DatetimeTZDtype):
        tz = str(dtype.tz)
        values = (values.tz_convert("UTC").tz_localize(None) if isinstance(values, pd.Index)
                  else values.dt.tz_convert("UTC").dt.tz_localize(None))
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.dtype.kind not in "biufM" or arr.dtype.hasobject:
        return None
    arr = np.ascontiguousarray(arr)
    raw = arr.view("i8") if arr.dtype.kind == "M" else arr  # the buffer protocol has no datetime type
    return {"dtype": arr.dtype.str, "tz": tz}, memoryview(raw).cast("B")  # type: ignore[arg-type]


def _numpy_frame(df: pd.DataFrame, buffers: list[bytes]) -> dict[str, Any] | None:
    """Numeric frames (bars, quotes, greeks) as one raw buffer per column: no conversion either way."""
    if not all(isinstance(c, str) for c in df.columns) or df.columns.has_duplicates:
        return None
    if isinstance(df.index, pd.MultiIndex):
        return None
    parts = []
    for name in df.columns:
        col = _plain_column(df[name])
        if col is None:
            return None
        parts.append((name, col))
    if isinstance(df.index, pd.RangeIndex):
        index: dict[str, Any] = {"range": [df.index.start, df.index.stop, df.index.step]}
    else:
        col = _plain_column(df.index)
        if col is None:
            return None
        buffers.append(col[1])
        index = {**col[0], "buf": len(buffers) - 1}
    index["name"] = df.index.name if isinstance(df.index.name, str | None) else str(df.index.name)
    columns = []
    for name, (meta, buf) in parts:
        buffers.append(buf)
        columns.append({**meta, "name": name, "buf": len(buffers) - 1})
    return {"columns": columns, "index": index, "rows": len(df)}


def _numpy_values(meta: dict[str, Any], buffers: Sequence[Frame]) -> Any:
    arr = np.frombuffer(buffers[meta["buf"]], dtype=np.dtype(meta["dtype"]))
    if not arr.flags.writeable:
        # small frames arrive as bytes; large ones as views of the message's own (writable) memory,
        # which the column then keeps alive: a megabyte reply is not copied again
        arr = arr.copy()
    if meta.get("tz"):
        return pd.DatetimeIndex(arr).tz_localize("UTC").tz_convert(meta["tz"])
    return arr


def _numpy_frame_from(body: dict[str, Any], buffers: Sequence[Frame]) -> pd.DataFrame:
    ix = body["index"]
    index = pd.RangeIndex(*ix["range"]) if "range" in ix else pd.Index(_numpy_values(ix, buffers))
    index.name = ix.get("name")
    data = {c["name"]: _numpy_values(c, buffers) for c in body["columns"]}
    return pd.DataFrame(data, index=index, columns=[c["name"] for c in body["columns"]], copy=False)


def encode(value: Any, buffers: list[bytes]) -> Any:
    """``value`` as JSON-ready data; DataFrames are appended to ``buffers`` and referenced by index."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic):
        return encode(value.item(), buffers)
    if isinstance(value, list):
        return [encode(v, buffers) for v in value]
    if isinstance(value, tuple):
        return {"$t": [encode(v, buffers) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v, buffers) for k, v in value.items()}
        return {"$d": [[encode(k, buffers), encode(v, buffers)] for k, v in value.items()]}
    if isinstance(value, pd.DataFrame):
        plain = _numpy_frame(value, buffers)
        if plain is not None:
            return {"$np": plain}
        data = _frame_bytes(value)
        if data is not None:
            buffers.append(data)
            return {"$df": len(buffers) - 1}
        return {"$dfj": {"columns": encode(list(value.columns), buffers),
                         "index": encode(list(value.index), buffers), "index_name": encode(value.index.name, buffers),
                         "data": encode(value.to_numpy(dtype=object).tolist(), buffers)}}
    if isinstance(value, pd.Series):
        return {"$s": {"name": encode(value.name, buffers), "index": encode(list(value.index), buffers),
                       "values": encode(value.to_numpy(dtype=object).tolist(), buffers)}}
    if isinstance(value, pd.Timestamp):
        return None if value is pd.NaT else {"$ts": value.isoformat()}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return {"$td": value.total_seconds()}
    if isinstance(value, np.ndarray):
        return encode(value.tolist(), buffers)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith(DATACLASS_MODULES):
            raise TypeError(f"{cls.__module__}.{cls.__qualname__} cannot cross to the hub (not an ibxl record)")
        return {"$dc": f"{cls.__module__}:{cls.__qualname__}",
                "f": {f.name: encode(getattr(value, f.name), buffers) for f in dataclasses.fields(value)}}
    raise TypeError(f"a {type(value).__name__} cannot cross to the hub; functions served by the hub take and "
                    "return plain data (numbers, text, lists, dicts, DataFrames, ibxl records)")


def _dataclass(name: str) -> type:
    module, _, qual = name.partition(":")
    if not module.startswith(DATACLASS_MODULES):
        raise TypeError(f"refusing to rebuild {name}: not an ibxl or ib_async record")
    mod = sys.modules.get(module) or importlib.import_module(module)
    obj: Any = mod
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise TypeError(f"refusing to rebuild {name}: not a record type")
    return obj


def decode(value: Any, buffers: Sequence[Frame]) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v, buffers) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 or "$dc" in value:
        tag = next(iter(value))
        body = value[tag]
        if tag == "$t":
            return tuple(decode(v, buffers) for v in body)
        if tag == "$d":
            return {_hashable(decode(k, buffers)): decode(v, buffers) for k, v in body}
        if tag == "$np":
            return _numpy_frame_from(body, buffers)
        if tag == "$df":
            return _frame_from(buffers[body])
        if tag == "$dfj":
            df = pd.DataFrame(decode(body["data"], buffers), columns=decode(body["columns"], buffers),
                              index=decode(body["index"], buffers))
            df.index.name = decode(body["index_name"], buffers)
            return df.infer_objects()
        if tag == "$s":
            return pd.Series(decode(body["values"], buffers), index=decode(body["index"], buffers),
                             name=decode(body["name"], buffers), dtype=object).infer_objects()
        if tag == "$ts":
            return pd.Timestamp(body)
        if tag == "$dt":
            return dt.datetime.fromisoformat(body)
        if tag == "$date":
            return dt.date.fromisoformat(body)
        if tag == "$td":
            return pd.Timedelta(seconds=body)
        if tag == "$dc":
            cls = _dataclass(body)
            data = {k: decode(v, buffers) for k, v in value["f"].items()}
            init = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.init and f.name in data}
            obj = cls(**init)
            for f in dataclasses.fields(cls):
                if not f.init and f.name in data:
                    object.__setattr__(obj, f.name, data[f.name])
            return obj
    return {k: decode(v, buffers) for k, v in value.items()}


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def dumps(value: Any) -> tuple[bytes, list[bytes]]:
    """JSON bytes of ``value`` and its binary buffers."""
    buffers: list[bytes] = []
    return json.dumps(encode(value, buffers), separators=(",", ":")).encode(), buffers


def loads(data: Frame, buffers: Sequence[Frame]) -> Any:
    """The value of :func:`dumps`' output (call only after the signature checked out)."""
    return decode(json.loads(bytes(data)), buffers)


# ------------------------------------------------------------ errors
def error_info(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its type, message, and ibxl's code, hint and candidates."""
    cls = type(exc)
    return {"type": f"{cls.__module__}:{cls.__qualname__}", "text": str(exc),
            "message": getattr(exc, "message", str(exc)), "code": getattr(exc, "code", 0),
            "hint": getattr(exc, "hint", ""), "candidates": list(getattr(exc, "candidates", []) or [])}


def rebuild_error(info: dict[str, Any]) -> Exception:
    """The exception described by :func:`error_info`: ibxl's types and common built-ins as themselves."""
    module, _, name = str(info.get("type", "")).partition(":")
    text = str(info.get("text", ""))
    if module.startswith("ibxl.") and "." not in name:
        cls = getattr(sys.modules.get(module), name, None) or getattr(_errors, name, None)
        if isinstance(cls, type) and issubclass(cls, _errors.IBXLError):
            exc = cls.__new__(cls)
            Exception.__init__(exc, text)
            exc.message, exc.code = info.get("message", text), int(info.get("code") or 0)
            exc.hint = info.get("hint", "")
            if isinstance(exc, _errors.ContractNotFound):
                exc.candidates = list(info.get("candidates") or [])
            return exc
    if module == "builtins" and name in BUILTIN_ERRORS:
        return BUILTIN_ERRORS[name](text)
    return _errors.IBXLError(f"{name}: {text}" if name else text)


# ------------------------------------------------------------ quote updates
QUOTE_FIELDS = NUMERIC_FIELDS
#: a record: the numeric fields, the quote's time (microseconds since the epoch, exact), the wall
#: time the update reached the hub, and the stale flag
_QUOTE = struct.Struct(f"<{len(QUOTE_FIELDS)}dqd?")
NO_TIME = -(2 ** 63)
_numbers = operator.attrgetter(*QUOTE_FIELDS)


def pack_quote(snap: Any, origin: float) -> bytes:
    """One snapshot as a fixed binary record (its key travels as the message topic)."""
    t = snap.time
    return _QUOTE.pack(*_numbers(snap), NO_TIME if t is None else t.value // 1000, origin, snap.stale)


def pack_quotes(items: list[tuple[str, Any, float]]) -> tuple[bytes, bytes]:
    """A batch of (key, snapshot, origin) as two frames: the keys, one per line, and the records."""
    return "\n".join(k for k, _, _ in items).encode(), b"".join(pack_quote(s, o) for _, s, o in items)


def _quote_time(micros: int) -> pd.Timestamp | None:
    return None if micros == NO_TIME else pd.Timestamp(micros, unit="us", tz="UTC")


def unpack_quotes(keys: Frame, records: Frame, wanted: Container[str] | None = None,
                  ) -> list[tuple[str, tuple[float, ...], pd.Timestamp | None, float, bool]]:
    """The (key, values, time, origin, stale) of every record of a batch (of the ``wanted`` keys only:
    the others are skipped unread)."""
    names = bytes(keys).decode().split("\n")
    size = _QUOTE.size
    if len(records) != size * len(names):
        raise ValueError("a quote batch whose records do not match its keys")
    n = len(QUOTE_FIELDS)
    times: dict[int, pd.Timestamp | None] = {}  # the lines of one batch mostly share their time
    out = []
    unpack = _QUOTE.unpack_from
    for i, name in enumerate(names):
        if wanted is not None and name not in wanted:
            continue
        rec = unpack(records, i * size)
        micros = rec[n]
        t = times.get(micros, NO_TIME)
        if t is NO_TIME:
            t = times[micros] = _quote_time(micros)
        out.append((name, rec[:n], t, rec[n + 1], rec[n + 2]))
    return out
