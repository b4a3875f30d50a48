"""One client connection: handshake, frame reading, rate limiting, dispatch and sending."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import NO_VALID_ID, SimError
from .handlers import registry
from .protocol.fields import BadField, FieldReader
from .protocol.framing import (
    HANDSHAKE_PREFIX,
    FrameDecoder,
    FrameError,
    encode_frame,
    parse_handshake,
)
from .protocol.ids import SERVER_VERSION, Msg, Req

if TYPE_CHECKING:
    from .server import Gateway

log = logging.getLogger("ibxl.sim")

#: a client whose unsent output grows past this is too slow; streaming updates are dropped
MAX_WRITE_BUFFER = 8 * 1024 * 1024
#: how long streaming updates may wait to be written together with the next ones
STREAM_FLUSH_SECONDS = 0.005
HANDSHAKE_TIMEOUT = 10.0


class Session:
    """The gateway's side of one API connection."""

    def __init__(self, gateway: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.client_id: int | None = None
        self.server_version = SERVER_VERSION
        self.market_data_type = 1
        self.closed = False
        self.close_reason = ""
        self.frames_in = 0
        self.frames_out = 0
        self.dropped_updates = 0
        #: (kind, reqId) -> a function that stops that subscription
        self._subs: dict[tuple[str, int], Callable[[], object]] = {}
        self._outbox: list[bytes] = []
        self._flush_scheduled = False  # a timed flush of streaming updates is pending
        self._reply_flush_scheduled = False  # a flush on the next loop turn is pending
        #: any per-session state a handler module keeps, by module name
        self.state: dict[str, Any] = {}
        self._tokens = float(gateway.config.limits.msgs_per_second)
        self._tokens_at = time.monotonic()
        self._abuse_second = 0
        self._abuse_streak = 0
        self._rate_error_second = 0

    # ------------------------------------------------------------ sending
    def send(self, *fields: object) -> None:
        """Encode and queue one message to the client.

        Messages are gathered and written once per turn of the event loop: a pulse that
        updates a hundred subscriptions costs one socket write, not a hundred.
        """
        if self.closed:
            return
        self._outbox.append(encode_frame(fields))
        self.frames_out += 1
        if not self._reply_flush_scheduled:
            self._reply_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def drain(self) -> None:
        """Write everything queued and wait until the socket has taken it."""
        self._flush()
        await self.writer.drain()

    def _timed_flush(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        self._reply_flush_scheduled = False
        if self._outbox and not self.closed:
            self.writer.write(b"".join(self._outbox))
        self._outbox.clear()

    def _backed_up(self) -> bool:
        """True when a streaming update should not be sent: the session is closed, or the client
        is not keeping up (then the update is counted as dropped)."""
        if self.closed:
            return True
        transport = self.writer.transport
        if transport is not None and transport.get_write_buffer_size() + len(self._outbox) * 64 > MAX_WRITE_BUFFER:
            self.dropped_updates += 1
            return True
        return False

    def send_update_frame(self, frame: bytes, count: int = 1) -> bool:
        """Like :meth:`send_update`, for ``count`` messages already encoded as frames."""
        if self._backed_up():
            return False
        self._outbox.append(frame)
        self.frames_out += count
        if not self._flush_scheduled:
            # streaming updates are written together at most every STREAM_FLUSH_SECONDS: one
            # system call for several pulse beats (replies still go out on the next loop turn)
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(STREAM_FLUSH_SECONDS, self._timed_flush)
        return True

    def send_update(self, *fields: object) -> bool:
        """Send a streaming update unless the client is not keeping up (then drop it)."""
        if self._backed_up():
            return False
        self.send(*fields)
        return True

    def error(self, req_id: int, code: int, text: str, advanced: str = "") -> None:
        """Send an error message, as TWS does (version 2 layout with advanced reject JSON)."""
        self.send(Msg.ERR_MSG, 2, req_id, code, text, advanced)

    def send_error(self, exc: SimError, req_id: int | None = None) -> None:
        """Send a model's refusal to the client."""
        self.error(exc.req_id if req_id is None else req_id, exc.code, exc.text)

    # ------------------------------------------------------------ subscriptions
    def add_subscription(self, kind: str, req_id: int, stop: Callable[[], object]) -> None:
        """Remember how to stop a streaming subscription (stopped on cancel or disconnect; its result is ignored)."""
        old = self._subs.pop((kind, req_id), None)
        if old:
            old()
        self._subs[(kind, req_id)] = stop

    def has_subscription(self, kind: str, req_id: int) -> bool:
        """True while the subscription exists."""
        return (kind, req_id) in self._subs

    def cancel_subscription(self, kind: str, req_id: int) -> bool:
        """Stop a subscription; False when there was none."""
        stop = self._subs.pop((kind, req_id), None)
        if stop is None:
            return False
        stop()
        return True

    def subscriptions(self, kind: str) -> list[int]:
        """Request ids of the live subscriptions of one kind."""
        return [rid for (k, rid) in self._subs if k == kind]

    # ------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Serve the connection until the client leaves or breaks the protocol."""
        try:
            if not await self._handshake():
                return
            decoder = FrameDecoder()
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    self.close_reason = self.close_reason or "client closed the connection"
                    break
                for fields in decoder.feed(data):
                    await self._dispatch(fields)
                    if self.closed:
                        break
                await self.drain()
        except FrameError as exc:
            self.close_reason = f"malformed frame: {exc}"
            log.warning("client %s (%s): %s; closing its connection", self.client_id, self.peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
            self.close_reason = self.close_reason or f"connection lost: {exc!r}"
        finally:
            await self.close()

    async def _handshake(self) -> bool:
        prefix = await asyncio.wait_for(self.reader.readexactly(4), HANDSHAKE_TIMEOUT)
        if prefix != HANDSHAKE_PREFIX:
            raise FrameError(f"connection does not start with the API handshake (got {prefix!r})")
        size = int.from_bytes(await asyncio.wait_for(self.reader.readexactly(4), HANDSHAKE_TIMEOUT), "big")
        if not 0 < size <= 1024:
            raise FrameError(f"handshake of {size} bytes is not a version range")
        hs = parse_handshake(await asyncio.wait_for(self.reader.readexactly(size), HANDSHAKE_TIMEOUT))
        if not hs.min_version <= SERVER_VERSION <= hs.max_version:
            reason = (
                f"unsupported API version range v{hs.min_version}..{hs.max_version}: "
                f"ibxl.sim speaks server version {SERVER_VERSION}; use a client that accepts it "
                "(ib_async 2.x, ib_insync 0.9.86 or the official ibapi 10.x)"
            )
            self.error(NO_VALID_ID, 530, reason)
            self.close_reason = reason
            log.warning("client %s refused: %s", self.peer, reason)
            await self.drain()
            return False
        stamp = datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        self.send(SERVER_VERSION, stamp)
        await self.drain()
        return True

    def _over_rate(self) -> bool:
        """A token bucket of one second's allowance refilled at the limit: bursts caused by network or
        scheduling lag pass, a sustained rate above the limit does not."""
        limit = self.gateway.config.limits.msgs_per_second
        now = time.monotonic()
        self._tokens = min(float(limit), self._tokens + (now - self._tokens_at) * limit)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        second = int(now)
        if second != self._abuse_second:
            self._abuse_streak = self._abuse_streak + 1 if second == self._abuse_second + 1 else 1
            self._abuse_second = second
        return True

    async def _dispatch(self, fields: list[str]) -> None:
        self.frames_in += 1
        if not fields or not fields[0].strip().lstrip("-").isdigit():
            self.error(NO_VALID_ID, 320, f"Error reading request: message id {fields[0][:20]!r} is not a number")
            return
        msg_id = int(fields[0])
        self.gateway.requests_received[msg_id] += 1
        reader = FieldReader(fields[1:], name=_name_of(msg_id))
        if self._over_rate():
            if self._abuse_streak >= self.gateway.config.limits.abuse_seconds:
                reason = "sustained message rate above the limit; disconnecting"
                self.error(NO_VALID_ID, 100, f"Max rate of messages per second has been exceeded: {reason}")
                self.close_reason = reason
                log.warning("client %s (%s): %s", self.client_id, self.peer, reason)
                self.closed = True
                return
            if int(time.monotonic()) != self._rate_error_second:
                self._rate_error_second = int(time.monotonic())
            self.error(_guess_req_id(fields), 100, "Max rate of messages per second has been exceeded.")
            return
        handler = registry().get(msg_id)
        if handler is None:
            self.error(NO_VALID_ID, 320, f"Error reading request: unsupported message id {msg_id}")
            return
        if self.client_id is None and msg_id != Req.START_API:
            self.error(NO_VALID_ID, 504, "Not connected: send startApi first")
            return
        try:
            result = handler(self, reader)
            if asyncio.iscoroutine(result):
                await result
        except SimError as exc:
            self.send_error(exc, exc.req_id if exc.req_id != NO_VALID_ID else _guess_req_id(fields))
        except BadField as exc:
            self.error(_guess_req_id(fields), 320, f"Error reading request: {exc}")
        except Exception as exc:  # a handler bug must cost one request, not the connection
            log.exception("handler for message %s failed", msg_id)
            self.error(_guess_req_id(fields), 322, f"Error processing request: {type(exc).__name__}: {exc}")

    async def close(self) -> None:
        """Stop every subscription and close the socket."""
        if getattr(self, "_closed_done", False):
            return
        self._closed_done = True
        try:
            self._flush()  # whatever was queued (a refusal, an error) still reaches the client
        except Exception:  # the socket may already be gone
            pass
        self.closed = True
        for stop in list(self._subs.values()):
            try:
                stop()
            except Exception:
                log.exception("stopping a subscription failed")
        self._subs.clear()
        self.gateway.session_closed(self)
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        except (Exception, asyncio.CancelledError):
            pass
        if self.close_reason:
            log.info("client %s (%s) disconnected: %s", self.client_id, self.peer, self.close_reason)


def _name_of(msg_id: int) -> str:
    try:
        return Req(msg_id).name.lower()
    except ValueError:
        return f"message {msg_id}"


# For these requests the request id is the first field; the others have a version first.
_NO_VERSION = {Req.HISTORICAL_DATA, Req.HEAD_TIMESTAMP, Req.HISTOGRAM_DATA, Req.HISTORICAL_TICKS, Req.TICK_BY_TICK_DATA,
               Req.CANCEL_TICK_BY_TICK_DATA, Req.CANCEL_HEAD_TIMESTAMP, Req.CANCEL_HISTOGRAM_DATA,
               Req.MARKET_RULE, Req.PNL, Req.CANCEL_PNL, Req.PNL_SINGLE, Req.CANCEL_PNL_SINGLE,
               Req.NEWS_ARTICLE, Req.HISTORICAL_NEWS, Req.MATCHING_SYMBOLS, Req.SEC_DEF_OPT_PARAMS,
               Req.SMART_COMPONENTS, Req.PLACE_ORDER}


def _guess_req_id(fields: list[str]) -> int:
    """The request id of a message, for addressing an error to it (-1 when unknown)."""
    try:
        msg_id = int(fields[0])
        idx = 1 if msg_id in _NO_VERSION else 2
        return int(fields[idx])
    except (ValueError, IndexError):
        return NO_VALID_ID
