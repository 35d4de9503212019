"""Tapes: what providers receive, recorded to files and replayed (``tradegw record`` / ``replay``).

A tape is a line-oriented file (JSON lines, UTF-8). Its first line is a header
``{"tape": 1, ...}``; every other line is one record, a JSON array:

* ``[ts_ns, "open", conn, url]``: a WebSocket connection opened;
* ``[ts_ns, "recv", conn, text]`` / ``[ts_ns, "recvb", conn, base64]``: a text / binary
  frame received, exactly as the socket handed it to the provider;
* ``[ts_ns, "send", conn, text]``: a message the provider sent (subscriptions; app-level
  pings are left out);
* ``[ts_ns, "close", conn, reason]``: the connection ended;
* ``[ts_ns, "http", "GET https://host/path?query", status, body]`` (``"httpb"``: base64
  body): one REST response a provider read.

``ts_ns`` is the gateway clock's monotonic time at receipt (what the reader hands the
provider as ``ts_ingest``); ``conn`` names the connection as ``<client name>#<socket
number>`` (``binance-0.0#1``, ``kraken-md0#2``). A recording is bounded: it is split into
segments ``tape-0000.jsonl``, ``tape-0001.jsonl``... of at most ``segment_bytes`` each,
and stops writing (counting what it left out) at ``max_bytes`` in all.

The seam is the WebSocket client and the venue HTTP client: :class:`TapeRecorder` wraps
the real socket and transport, :class:`TapePlayer` stands in for them. Which one is used
comes from :func:`using_tape`, a context variable, so no plugin changes to be recorded or
replayed. The player is deterministic: records are handed out strictly in the recorded
order, each waiting for its turn (a frame waits until the subscribe recorded before it
was sent; a REST answer until the provider asked for it). A record nobody claims within
``stall_s`` (the replayed run diverged) is skipped and counted in ``skipped``.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.frames import Close

__all__ = [
    "Record",
    "TapePlayer",
    "TapeRecorder",
    "TapeWriter",
    "active_tape",
    "read_tape",
    "using_tape",
]

TAPE_VERSION = 1
_SEGMENT = "tape-{:04d}.jsonl"

Record = tuple[int, str, str, Any, Any]
"""``(ts_ns, kind, conn_or_request, payload, status)``; ``status`` is None except for http."""

_current: contextvars.ContextVar[TapeRecorder | TapePlayer | None] = contextvars.ContextVar(
    "tradegw_tape", default=None
)


def active_tape() -> TapeRecorder | TapePlayer | None:
    """The recorder or player of the current task tree, if any."""
    return _current.get()


@contextlib.contextmanager
def using_tape(tape: TapeRecorder | TapePlayer | None) -> Iterator[None]:
    """Record or replay every WebSocket and venue HTTP client created inside the block."""
    token = _current.set(tape)
    try:
        yield
    finally:
        _current.reset(token)


# -- the file format --------------------------------------------------------------------


class TapeWriter:
    """Appends records to ``directory/tape-NNNN.jsonl``, bounded per segment and in all."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 2**20,
        max_bytes: int = 2**30,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.written = 0
        """Bytes written in all segments."""
        self.records = 0
        self.dropped = 0
        """Records left out because ``max_bytes`` was reached."""
        self.segments: list[Path] = []
        self._file: Any = None
        self._in_segment = 0
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, record: Sequence[Any]) -> None:
        """Append one record (dropped and counted once the tape is full)."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        if self.written + len(data) > self.max_bytes:
            self.dropped += 1
            return
        if self._file is None or self._in_segment + len(data) > self.segment_bytes:
            self._open_segment()
        self._file.write(data)
        self._in_segment += len(data)
        self.written += len(data)
        self.records += 1

    def _open_segment(self) -> None:
        if self._file is not None:
            self._file.close()
        path = self.directory / _SEGMENT.format(len(self.segments))
        self.segments.append(path)
        self._file = path.open("wb")
        header = json.dumps({"tape": TAPE_VERSION, "segment": len(self.segments) - 1}) + "\n"
        self._file.write(header.encode())
        self._in_segment = len(header)
        self.written += len(header)

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Close the current segment."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_tape(path: Path) -> list[Record]:
    """Every record of a tape: a directory of segments (in order) or one segment file."""
    files = sorted(path.glob("tape-*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no tape segments (tape-NNNN.jsonl) found")
    out: list[Record] = []
    for file in files:
        with file.open("rb") as lines:
            header = json.loads(lines.readline() or b"{}")
            if not isinstance(header, dict) or header.get("tape") != TAPE_VERSION:
                raise ValueError(f"{file}: not a version-{TAPE_VERSION} tradegw tape")
            for number, line in enumerate(lines, start=2):
                try:
                    row = json.loads(line)
                    ts, kind, conn, payload = row[:4]
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{file}:{number}: bad tape record") from exc
                status = row[4] if str(kind).startswith("http") else None
                out.append((int(ts), str(kind), str(conn), payload, status))
    return out


# -- recording --------------------------------------------------------------------------


class TapeRecorder:
    """Writes what every socket and venue HTTP client receives (see the module docstring)."""

    def __init__(self, writer: TapeWriter, now_ns: Callable[[], int] = time.monotonic_ns):
        self.writer = writer
        self._now_ns = now_ns

    def record(self, kind: str, conn: str, payload: Any, status: int | None = None) -> None:
        """Append one record stamped now."""
        row: list[Any] = [self._now_ns(), kind, conn, payload]
        if status is not None:
            row.append(status)
        self.writer.write(row)

    async def connect(
        self, conn: str, url: str, opener: Callable[..., Any], kwargs: dict[str, Any], ping: Any
    ) -> Any:
        """Open the real socket and wrap it so its frames are recorded."""
        ws = await opener(url, **kwargs)
        self.record("open", conn, url)
        return _RecordingSocket(ws, conn, self, ping)

    def transport(self, inner: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport:
        """A transport that records each response body of ``inner``."""
        return _RecordingTransport(inner or httpx.AsyncHTTPTransport(trust_env=False), self)


class _RecordingSocket:
    def __init__(self, ws: Any, conn: str, recorder: TapeRecorder, ping: Any) -> None:
        self._ws = ws
        self._conn = conn
        self._rec = recorder
        self._ping = ping

    async def recv(self) -> str | bytes:
        try:
            data: str | bytes = await self._ws.recv()
        except ConnectionClosed as exc:
            self._rec.record("close", self._conn, str(exc))
            raise
        if isinstance(data, str):
            self._rec.record("recv", self._conn, data)
        else:
            self._rec.record("recvb", self._conn, base64.b64encode(data).decode())
        return data

    async def send(self, data: str | bytes) -> None:
        if data != self._ping:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            self._rec.record("send", self._conn, text)
        await self._ws.send(data)

    async def close(self) -> None:
        await self._ws.close()


class _RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: TapeRecorder) -> None:
        self._inner = inner
        self._rec = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        key = f"{request.method} {request.url}"
        try:
            self._rec.record("http", key, body.decode("utf-8"), response.status_code)
        except UnicodeDecodeError:
            self._rec.record("httpb", key, base64.b64encode(body).decode(), response.status_code)
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- replay -----------------------------------------------------------------------------


@dataclass
class _Sent:
    by_conn: dict[str, list[str]] = field(default_factory=dict)


class TapePlayer:
    """Hands a tape's records to the sockets and HTTP clients that ask, in recorded order.

    ``pace=None`` replays as fast as the gateway takes frames (a socket yields to other
    tasks every ``burst`` frames, as a busy reader does); ``pace=1.0`` keeps the recorded
    spacing of frames (``2.0`` twice as fast).
    """

    def __init__(
        self,
        records: Sequence[Record],
        *,
        pace: float | None = None,
        burst: int = 64,
        stall_s: float = 5.0,
        hold_at: int | None = None,
        responder: Callable[[str, str], Sequence[str]] | None = None,
    ) -> None:
        # Binary frames are decoded once here, not on the hot path: a socket hands bytes over.
        self.records = [
            (r[0], "recv", r[2], base64.b64decode(r[3]), None) if r[1] == "recvb" else r
            for r in records
        ]
        self.hold_at = hold_at
        """Index of a record not handed out before :meth:`release` (the bench's start line)."""
        self._held: anyio.Event | None = None
        self.responder = responder
        """``responder(conn, sent_text)`` -> frames answered at once on that connection (the
        bench's stand-in for a venue's acks when a tape holds only the venue's data)."""
        self.cursor = 0
        self.skipped = 0
        """Records nobody claimed within ``stall_s`` (the replay diverged from the tape)."""
        self.pace = pace
        self.burst = max(1, burst)
        self.stall_s = stall_s
        self._sent = _Sent()
        self._changed: anyio.Event | None = None
        self._done: anyio.Event | None = None
        self._start: tuple[float, int] | None = None
        first = next((r[0] for r in self.records), 0)
        self._ts0 = first

    # -- shared cursor -----------------------------------------------------------------
    def _event(self) -> anyio.Event:
        if self._changed is None:
            self._changed = anyio.Event()
        return self._changed

    @property
    def done(self) -> anyio.Event:
        """Set once every record has been handed out."""
        if self._done is None:
            self._done = anyio.Event()
            if self.cursor >= len(self.records):
                self._done.set()
        return self._done

    @property
    def held(self) -> anyio.Event:
        """Set once the cursor stands at ``hold_at``."""
        if self._held is None:
            self._held = anyio.Event()
        return self._held

    def release(self, then_hold_at: int | None = None) -> None:
        """Hand out the records from ``hold_at`` on (up to ``then_hold_at``, if given)."""
        self.hold_at = then_hold_at
        self._held = None
        self._moved()

    def _moved(self) -> None:
        """Consume the sends already made, then wake every waiter."""
        records = self.records
        if self.cursor == self.hold_at:
            self.held.set()
        while self.cursor < len(records) and self.cursor != self.hold_at:
            _, kind, conn, payload, _ = records[self.cursor]
            if kind != "send":
                break
            pending = self._sent.by_conn.get(conn)
            if not pending:
                break
            if payload in pending:
                pending.remove(payload)
            else:
                pending.pop(0)  # sent something else in its place: keep going
            self.cursor += 1
        if self.cursor >= len(records):
            self.done.set()
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait_turn(
        self, matches: Callable[[Record], bool], escape: Callable[[], bool] | None = None
    ) -> Record | None:
        """Wait until the record at the cursor ``matches``; take it.

        None when the tape ended (or, with ``escape``, as soon as ``escape()`` is true).
        """
        while True:
            if escape is not None and escape():
                return None
            if self.cursor >= len(self.records):
                if escape is None:
                    return None
                await self._event().wait()
                continue
            rec = self.records[self.cursor]
            if self.cursor != self.hold_at and matches(rec):
                self.cursor += 1
                self._moved()
                return rec
            at = self.cursor
            with anyio.move_on_after(self.stall_s) as scope:
                await self._event().wait()
            if scope.cancelled_caught and self.cursor == at != self.hold_at:
                # Nobody claimed it for stall_s: the replayed run diverged; skip it.
                self.skipped += 1
                self.cursor += 1
                self._moved()

    def _ahead(self, kind: str, key: str) -> bool:
        return any(r[1] == kind and r[2] == key for r in self.records[self.cursor :])

    async def _pace(self, ts: int) -> None:
        if self.pace is None:
            return
        now = anyio.current_time()
        if self._start is None:
            self._start = (now, ts)
        start, ts0 = self._start
        delay = start + (ts - ts0) / 1e9 / self.pace - now
        if delay > 0:
            await anyio.sleep(delay)

    # -- the WebSocket side ------------------------------------------------------------
    async def connect(
        self, conn: str, url: str, opener: Callable[..., Any], kwargs: dict[str, Any], ping: Any
    ) -> Any:
        """The socket ``conn`` as the tape has it (``OSError`` when the tape has none)."""
        del opener, kwargs
        if not self._ahead("open", conn):
            raise OSError(f"tape: no connection {conn} ({url}) left to replay")
        rec = await self._wait_turn(lambda r: r[1] == "open" and r[2] == conn)
        if rec is None:
            raise OSError(f"tape: no connection {conn} ({url}) left to replay")
        return _ReplaySocket(self, conn, ping)

    def _sent_on(self, conn: str, data: str | bytes) -> None:
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        self._sent.by_conn.setdefault(conn, []).append(text)
        self._moved()

    # -- the HTTP side -----------------------------------------------------------------
    def transport(self, inner: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport:
        """A transport answering from the tape (``inner`` is never used)."""
        del inner
        return _ReplayTransport(self)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        """The recorded response to ``request``, once the tape reaches it."""
        key = f"{request.method} {request.url}"
        if not (self._ahead("http", key) or self._ahead("httpb", key)):
            raise httpx.ConnectError(f"tape: no response to {key} left to replay")
        rec = await self._wait_turn(lambda r: r[1][:4] == "http" and r[2] == key)
        if rec is None:
            raise httpx.ConnectError(f"tape: no response to {key} left to replay")
        _, kind, _, body, status = rec
        content = base64.b64decode(body) if kind == "httpb" else str(body).encode("utf-8")
        return httpx.Response(
            int(status),
            content=content,
            headers={"content-type": "application/json"},
            request=request,
        )


class _ReplaySocket:
    def __init__(self, player: TapePlayer, conn: str, ping: Any) -> None:
        self._player = player
        self._conn = conn
        self._ping = ping
        self._since_yield = 0
        self._answers: deque[str] = deque()

    async def recv(self) -> str | bytes:
        player = self._player
        conn = self._conn
        records = player.records
        if self._answers:
            return self._answers.popleft()
        # Fast path: our own frame is next and we owe nobody a turn.
        at = player.cursor
        if (
            at < len(records)
            and player.pace is None
            and self._since_yield < player.burst
            and at != player.hold_at
        ):
            _, kind, rconn, payload, _ = records[at]
            if rconn == conn and kind == "recv":
                self._since_yield += 1
                player.cursor = at + 1
                player._moved()
                return payload
        self._since_yield = 0
        await anyio.lowlevel.checkpoint()
        escape = None if player.responder is None else self._answered
        rec = await player._wait_turn(lambda r: r[2] == conn and r[1] in ("recv", "close"), escape)
        if rec is None:
            if self._answers:
                return self._answers.popleft()
            await anyio.sleep_forever()
            raise AssertionError("unreachable")  # pragma: no cover
        await player._pace(rec[0])
        _, kind, _, payload, _ = rec
        if kind == "close":
            raise ConnectionClosedOK(Close(1000, str(payload)[:120]), None)
        return payload  # type: ignore[no-any-return]

    def _answered(self) -> bool:
        return bool(self._answers)

    async def send(self, data: str | bytes) -> None:
        if data != self._ping:
            player = self._player
            if player.responder is not None:
                text = data if isinstance(data, str) else data.decode("utf-8", "replace")
                self._answers.extend(player.responder(self._conn, text))
            player._sent_on(self._conn, data)
        await anyio.lowlevel.checkpoint()

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()


class _ReplayTransport(httpx.AsyncBaseTransport):
    def __init__(self, player: TapePlayer) -> None:
        self._player = player

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._player.answer(request)
