"""Hypothesis fuzzing of the Binance frame handlers on mutations of real frames.

Real captured frames (the three cryptofeed Binance sessions: depth diffs, bookTicker,
aggTrade, kline; REST depth snapshots; the venue's documented ``executionReport`` examples)
are mutated (a hostile number string where a number is expected, a value of another JSON
type, a key dropped, the frame truncated or bytes flipped, nested thousands of levels deep,
an unknown symbol or stream) and fed where the WebSocket reader hands frames over. For every
example: no exception escapes; nothing invalid is kept in a book or reaches a consumer
(prices > 0, quantities >= 0, finite, at most 8 decimals, books never crossed); a frame
the oracle knows is bad is counted as exactly one rejection and emits nothing; any frame
emits something, is counted as rejected, or is one that legitimately carries nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradegw_binance.config import BinanceSettings
from tradegw_binance.decoding import decode_depth_snapshot
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.provider import BinanceProvider
from tradegw_binance.schemas import BinanceDepthSnapshotMsg
from tradegw_binance.streams import StreamConnection
from tradegw_binance.symbols import BinanceSymbolMap
from tradegw_binance.user_stream import UserStream
from tradegw_binance.values import FrameRejected

from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import (
    Event,
    ExecReport,
    Ticker,
)
from tradegw_core.schema.symbols import Instrument
from tradegw_core.testing.data import shared_file
from tradegw_core.testing.fuzz import event_problems, mutated_frames
from tradegw_core.testing.provider import RecordingProviderContext

SESSIONS = ("BINANCE", "BINANCE_US", "BINANCE_TR")
HOSTILE = [
    "NaN",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "-1",
    "-0.00000001",
    "\uff11\uff12\uff13",  # full-width 123
    "1e5",
    " 1",
    "1_0",
    "",
    "abc",
    "0.000000001",
    "9" * 40,
    "1.2.3",
]
"""Number strings no Binance numeric field may carry."""
FUZZ = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- real inputs -------------------------------------------------------------------------


def _lines(rel: str) -> list[str]:
    return shared_file(rel).read_text(encoding="utf-8").splitlines()


@functools.cache
def symbol_map() -> BinanceSymbolMap:
    insts: list[Any] = []
    for name in ("cryptofeed/BINANCE.0", "cryptofeed/BINANCE_US.0"):
        body = _lines(name)[0].partition(" -> ")[2].partition(": ")[2]
        insts.extend(BinanceSymbolMap.from_exchange_info(body, "binance").instruments().values())
    return BinanceSymbolMap({i.venue_symbol: i for i in insts}.values())


@functools.cache
def snapshots() -> dict[str, BinanceDepthSnapshotMsg]:
    """Each captured symbol's REST snapshot, trimmed to its top 50 levels per side."""
    out = {}
    for session in SESSIONS:
        for line in _lines(f"cryptofeed/{session}.http.0.0"):
            url, sep, rest = line.partition(" -> ")
            if sep:
                msg = decode_depth_snapshot(rest.partition(": ")[2])
                sym = url.split("symbol=")[1].split("&")[0]
                out[sym] = msgspec.structs.replace(msg, bids=msg.bids[:50], asks=msg.asks[:50])
    return out


@functools.cache
def snapshot_bodies() -> list[tuple[str, str]]:
    """(venue symbol, body) of every captured REST snapshot."""
    return [
        (line.split("symbol=")[1].split("&")[0], line.partition(" -> ")[2].partition(": ")[2])
        for session in SESSIONS
        for line in _lines(f"cryptofeed/{session}.http.0.0")
        if " -> " in line
    ]


@functools.cache
def market_frames() -> list[dict[str, Any]]:
    frames = []
    for session in SESSIONS:
        for line in _lines(f"cryptofeed/{session}.ws.1.0"):
            if line and " <-> " not in line and " <- " not in line:
                frames.append(json.loads(line.partition(": ")[2]))
    return frames


@functools.cache
def user_frames() -> list[dict[str, Any]]:
    base = shared_file("nautilus/binance/ws_messages/ws_spot_agg_trade.json").parents[1]
    frames = []
    for path in sorted(base.rglob("*.json")):
        doc = json.loads(path.read_text())
        if '"executionReport"' in json.dumps(doc):
            event = doc.get("event") or doc.get("data", doc)
            frames.append({"subscriptionId": 0, "event": event})
    return frames


# -- mutations ---------------------------------------------------------------------------

NUMERIC = {
    "depthUpdate": None,  # every level string
    "aggTrade": ("p", "q"),
    "bookTicker": ("b", "B", "a", "A"),
    "kline": ("o", "c", "h", "l", "v"),
    "executionReport": ("q", "l", "z"),
}


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _numeric_paths(doc: dict[str, Any], payload_key: str) -> list[tuple[Any, ...]]:
    """Paths of the number strings the adapter must validate in this frame."""
    data = doc.get(payload_key)
    if not isinstance(data, dict):
        return []
    kind = data.get("e") or ("bookTicker" if "B" in data and "A" in data else "")
    if kind == "depthUpdate":
        return [
            (payload_key, side, i, j)
            for side in ("b", "a")
            for i in range(len(data[side]))
            for j in (0, 1)
        ]
    if kind == "kline":
        return [(payload_key, "k", f) for f in NUMERIC["kline"]]
    fields = NUMERIC.get(kind) or ()
    return [(payload_key, f) for f in fields if f in data]


@st.composite
def mutated(draw: st.DrawFn, frames: list[dict[str, Any]], payload_key: str) -> tuple[Any, ...]:
    """(original doc, frame text or bytes, must_reject, kind).

    Targeted edits whose outcome is known (a hostile number where the adapter reads one,
    an unknown symbol, a truncated frame, deep nesting: each must be one rejection), or
    one of the shared generic hostile edits (``tradegw_core.testing.fuzz``).
    """
    doc = draw(st.sampled_from(frames))
    work = json.loads(json.dumps(doc))
    kinds = ["none", "number", "number", "number", "symbol", "truncate", "deep", "deep_level"]
    kind = draw(st.sampled_from([*kinds, "generic", "generic", "generic", "generic"]))
    text = json.dumps(work, separators=(",", ":"))
    if kind == "generic":
        return doc, draw(mutated_frames([text])), False, kind
    if kind == "truncate":
        return doc, text[: draw(st.integers(0, len(text) - 1))], True, kind
    if kind == "deep":
        text = json.dumps({**work, payload_key: "DEEP"}).replace('"DEEP"', "[" * 3000 + "]" * 3000)
        return doc, text, True, kind
    paths = _numeric_paths(work, payload_key)
    if kind == "deep_level" and paths:
        _set(work, draw(st.sampled_from(paths)), "DEEP")
        return doc, json.dumps(work).replace('"DEEP"', "[" * 2000 + "]" * 2000), True, kind
    must_reject = False
    if kind == "number" and paths:
        _set(work, draw(st.sampled_from(paths)), draw(st.sampled_from(HOSTILE)))
        must_reject = True
    elif kind == "symbol" and "s" in work[payload_key]:
        work[payload_key]["s"] = draw(st.sampled_from(["ZZZUNKNOWN", "", "btcusdt\u0000"]))
        must_reject = True
    text = json.dumps(work, separators=(",", ":"))
    return doc, text.encode() if draw(st.booleans()) else text, must_reject, kind


@functools.cache
def at_venue_precision() -> dict[str, Instrument]:
    """The instruments with Binance's rendered precision (8 decimals; see values.py)."""
    return {
        sym: msgspec.structs.replace(inst, price_precision=8, qty_precision=8)
        for sym, inst in symbol_map().instruments().items()
    }


def assert_sane(event: Event) -> None:
    """No malformed value (shared rules of ``tradegw_core.testing.fuzz``); tickers uncrossed."""
    assert event_problems(event, at_venue_precision()) == [], event
    if isinstance(event, Ticker) and event.bid_price is not None and event.ask_price is not None:
        assert event.bid_price < event.ask_price


class Market:
    """One Binance provider (real book stages, real rejection counting), books synced."""

    def __init__(self) -> None:
        self.ctx = RecordingProviderContext("binance", BinanceSettings())
        self.provider = BinanceProvider(self.ctx)
        self.provider.use_symbols(symbol_map())
        for venue_symbol in snapshots():
            self.provider._ensure_book(symbol_map().to_canonical(venue_symbol))
        self.conn = StreamConnection(
            "ws://127.0.0.1:9/stream",
            name="fuzz",
            on_data=self.provider._on_data,
            routes=self.provider._routes,
            on_resubscribed=self._never,
            on_reject=self.ctx.reject_frame,
            capacity=1024,
            messages_per_second=5,
            lifetime_s=None,
        )

    @staticmethod
    async def _never(conn: StreamConnection, reconnected: bool) -> None:
        raise AssertionError("no connection in the fuzz test")

    def make_next(self, doc: dict[str, Any]) -> None:
        """Sync the book of a depth frame's symbol so that this diff is the next one."""
        data = doc["data"]
        if data.get("e") != "depthUpdate":
            return
        book = self.provider._books[data["s"]]
        book.assembler._buffer.clear()  # diffs of earlier examples: not this one's past
        snap = msgspec.structs.replace(snapshots()[data["s"]], lastUpdateId=data["U"] - 1)
        book.stage.on_snapshot(snap, 0)
        assert book.stage.live

    def check_books(self, venue_symbol: str | None) -> None:
        books = self.provider._books
        for book in [books[venue_symbol]] if venue_symbol in books else books.values():
            tb = book.assembler.book
            assert all(p > 0 and q > 0 for p, q in tb.bids.items())
            assert all(p > 0 and q > 0 for p, q in tb.asks.items())
            if book.assembler.synced and tb.bids and tb.asks:
                assert max(tb.bids) < min(tb.asks)


@functools.cache
def market() -> Market:
    return Market()


@FUZZ
@given(case=mutated(market_frames(), "data"))
def test_mutated_market_frames_never_escape_and_never_leak_bad_values(
    case: tuple[Any, ...],
) -> None:
    doc, frame, must_reject, kind = case
    m = market()
    m.make_next(doc)
    before_events, before = len(m.ctx.events.items), dict(m.ctx.rejects.counts)
    m.conn._on_frame(frame, 1)  # raises nothing, whatever the frame
    emitted = [e for e in m.ctx.events.items[before_events:] if isinstance(e, Event)]
    reasons = {r for r, n in m.ctx.rejects.counts.items() if n != before.get(r, 0)}
    rejected = sum(m.ctx.rejects.counts.values()) - sum(before.values())
    for event in emitted:
        assert_sane(event)
    m.check_books(doc["data"].get("s"))
    assert rejected <= 1, m.ctx.rejects.counts
    if must_reject:
        assert rejected == 1, (kind, frame)
        assert not emitted, (kind, emitted)
    assert not (emitted and rejected), (kind, emitted)
    data = doc["data"]
    empty_diff = data.get("e") == "depthUpdate" and not data["b"] and not data["a"]
    if kind == "none" and not empty_diff:
        # A real frame, unmutated, goes through (a diff may cross the trimmed snapshot).
        assert emitted or reasons == {"crossed"}, (doc, reasons)


@FUZZ
@given(case=mutated(user_frames(), "event"))
def test_mutated_execution_reports_never_escape_and_never_leak_bad_values(
    case: tuple[Any, ...], user_stream: Callable[..., UserStream]
) -> None:
    doc, frame, must_reject, kind = case
    out: list[ExecReport] = []
    rejects: list[str] = []
    parser = BinanceParser("binance", symbol_map())
    stream = user_stream(parser, out.append, lambda reason, **kw: rejects.append(reason))
    stream.on_frame(frame, 1)
    for report in out:
        assert_sane(report)
    assert len(rejects) <= 1
    status = doc["event"].get("X")
    if must_reject and status != "PENDING_CANCEL":
        assert rejects, (kind, frame)
        assert not out
    assert not (out and rejects)


@FUZZ
@given(
    answer=st.sampled_from(snapshot_bodies()),
    level=st.integers(0, 99),
    field=st.integers(0, 1),
    side=st.sampled_from(["bids", "asks"]),
    bad=st.sampled_from([*HOSTILE, "crossed"]),
)
def test_mutated_rest_snapshots_are_refused_never_kept(
    answer: tuple[str, str], level: int, field: int, side: str, bad: str
) -> None:
    venue_symbol, body = answer
    doc = json.loads(body)
    doc["bids"], doc["asks"] = doc["bids"][:50], doc["asks"][:50]
    levels = doc[side]
    if bad == "crossed":  # a bid above the best ask (or an ask below the best bid)
        other = doc["asks" if side == "bids" else "bids"][0][0]
        levels[level % len(levels)] = [other, "1"]
    else:
        levels[level % len(levels)][field] = bad
    book = market().provider._books[venue_symbol]
    with pytest.raises(SchemaError):  # decode refuses it, or the book does (FrameRejected)
        book.stage.on_snapshot(decode_depth_snapshot(json.dumps(doc)), 0)
    assert not book.assembler.synced
    assert not book.assembler.book.bids


def test_rejections_are_counted_by_reason_in_the_provider_context() -> None:
    m = Market()
    doc = next(f for f in market_frames() if f["data"].get("e") == "depthUpdate" and f["data"]["b"])
    m.make_next(doc)
    bad = json.loads(json.dumps(doc))
    bad["data"]["b"][0][0] = "NaN"
    m.conn._on_frame(json.dumps(bad), 1)
    m.conn._on_frame("{not json", 1)
    m.conn._on_frame(
        '{"stream":"zzzunknown@aggTrade","data":'
        + json.dumps(
            next(f for f in market_frames() if f["data"].get("e") == "aggTrade")["data"]
            | {"s": "ZZZUNKNOWN"}
        )
        + "}",
        1,
    )
    m.conn._on_frame('{"stream":"zzzunknown@depth@100ms","data":{}}', 1)  # not listed
    m.conn._on_frame('{"stream":"ethusdt@depth@100ms","data":{}}', 1)  # listed, no book: ignored
    assert m.ctx.rejects.counts == {"value": 1, "decode": 1, "unknown_symbol": 2}
    assert not m.provider._books[doc["data"]["s"]].stage.live  # the bad book frame resyncs
    with pytest.raises(FrameRejected):
        m.provider._parser.price("NaN")
