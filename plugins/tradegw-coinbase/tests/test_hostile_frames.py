"""Hostile frames into the real Coinbase market socket, book stage and user-order tracker.

Every frame handler is total: whatever the bytes, nothing escapes; a frame that cannot be
used is rejected (counted by reason through ``ctx.reject_frame``), a bad book frame
resyncs that book, and no malformed value is kept in a book or reaches a consumer. The
fuzz tests mutate real frames: the emulator's recorded ``level2``, ``market_trades``,
``ticker``, ``candles`` and ``user`` frames (``resources/``) and the nautilus fixtures of
Coinbase Advanced Trade's documented ``l2_data`` snapshot and update.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.emulator import CoinbaseEmulator
from tradegw_coinbase.market_socket import MarketSocket
from tradegw_coinbase.orders import CoinbaseOrderAdapter
from tradegw_coinbase.provider import CoinbaseProvider

from tradegw_core.clock import SystemClock
from tradegw_core.schema.events import BookSnapshot, Event, EventType, ExecReport
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import Corrupt
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.testing.books import replayed_book
from tradegw_core.testing.fuzz import book_problems, event_problems, mutated_frames
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import RecordingConsumer

RESOURCES = Path(__file__).resolve().parent / "resources"
BTC = Symbol("BTC-USD")
INSTRUMENTS = {
    BTC: Instrument(
        provider="coinbase", symbol=BTC, venue_symbol="BTC-USD", base="BTC", quote="USD",
        price_step=Decimal("0.01"), qty_step=Decimal("0.00000001"),
        price_precision=2, qty_precision=8,
    )
}  # fmt: skip
_SEQ = re.compile(r'"sequence_num":\s*\d+')


def _compact(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return msgspec.json.format(path.read_bytes(), indent=-1).decode()


def _numbered(frame: str, seq: int) -> str:
    return _SEQ.sub(f'"sequence_num":{seq}', frame, count=1)


EMU_SNAPSHOT = _compact(RESOURCES / "coinbase_l2_data_snapshot.json")
EMU_UPDATE = _compact(RESOURCES / "coinbase_l2_data_update.json")
EMU_MARKET = [
    _compact(RESOURCES / f"coinbase_{name}_update.json")
    for name in ("market_trades", "ticker", "candles")
]
USER = [_compact(RESOURCES / f"coinbase_user_{kind}.json") for kind in ("snapshot", "update")]


class Offline:
    """A CoinbaseProvider with BTC-USD's ``level2`` on its book socket, fed directly
    through that socket's frame handler (no network)."""

    def __init__(self) -> None:
        self.ctx = RecordingProviderContext("coinbase", CoinbaseSettings())
        self.provider = CoinbaseProvider(self.ctx)
        provider: Any = self.provider  # test set-up reaches into the provider's tables
        provider._instruments = dict(INSTRUMENTS)
        self.socket = MarketSocket(self.provider, 0)
        provider._sockets = [self.socket]
        provider._book_stage("BTC-USD")
        self.stage = self.ctx.book_stage.get(BTC)
        assert self.stage is not None

    def session(self, *frames: str) -> list[Event]:
        """A fresh connection receiving ``frames`` in order (numbered 1, 2, ...)."""
        self.socket.seq.restart()
        return [e for n, f in enumerate(frames, 1) for e in self.feed(_numbered(f, n))]

    def feed(self, frame: str | bytes) -> list[Event]:
        """Hand one frame to the socket; the events it emitted."""
        before = len(self.ctx.events.items)
        self.socket.on_frame(frame.encode() if isinstance(frame, str) else frame, 1)
        return [e for e in self.ctx.events.items[before:] if isinstance(e, Event)]

    @property
    def rejected(self) -> int:
        return self.ctx.rejects.total

    def book_problems(self) -> list[str]:
        """What is wrong with the kept book: malformed values, a crossed book."""
        book = self.stage.assembler.book  # type: ignore[union-attr]
        return book_problems(INSTRUMENTS[BTC], book.top_bids(), book.top_asks())


@pytest.fixture
def offline() -> Offline:
    return Offline()


def _update(price: str, size: str, side: str = "bid") -> str:
    return (
        '{"channel":"l2_data","client_id":"","timestamp":"2026-11-24T21:18:27.214626685Z",'
        '"sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{'
        f'"side":"{side}","event_time":"2026-11-24T21:18:27.128383121Z",'
        f'"price_level":"{price}","new_quantity":"{size}"}}]}}]}}'
    )


def test_recorded_session_is_accepted_whole(offline: Offline) -> None:
    events = offline.session(EMU_SNAPSHOT, EMU_UPDATE, *EMU_MARKET)
    assert [type(e).__name__ for e in events] == [
        "BookSnapshot", "BookUpdate", "Trade", "Ticker", "KlineSummary",
    ]  # fmt: skip
    assert offline.rejected == 0
    assert all(not event_problems(e, INSTRUMENTS) for e in events)


@pytest.mark.parametrize(
    ("price", "size", "reason"),
    [
        ("NaN", "1", "value"),
        ("sNaN", "1", "value"),
        ("Infinity", "1", "value"),
        ("59000.00", "-Infinity", "value"),
        ("-59000.00", "1", "value"),
        ("0", "1", "value"),
        ("59000.00", "-1", "value"),
        ("59000.001", "1", "value"),  # finer than the 0.01 price step
        ("59000.00", "1.000000001", "value"),  # finer than the size step
        ("５９０００.００", "1", "value"),  # full-width digits  # noqa: RUF001
        ("59000.00", "1_000", "value"),
        ("59000.00", " 1", "value"),
        ("59000.00", "1e3", "value"),
        ("1" * 30, "1", "value"),
        ("70000.00", "1", "crossed"),  # a bid above the best ask
    ],
)
def test_a_bad_level_rejects_the_frame_and_resyncs_the_book(
    offline: Offline, price: str, size: str, reason: str
) -> None:
    offline.session(EMU_SNAPSHOT)
    assert offline.stage.live  # type: ignore[union-attr]
    assert offline.feed(_update(price, size)) == []
    assert offline.ctx.rejects.counts == {reason: 1}
    assert not offline.stage.live  # type: ignore[union-attr]
    assert [r["reason"] for r in offline.ctx.events.named("book.resync")] == ["rejected"]
    assert offline.book_problems() == []
    assert offline.stage.assembler.book.bids == {}  # type: ignore[union-attr]
    # The fresh in-band snapshot (after the resubscribe) makes the book live again.
    assert [type(e) for e in offline.session(EMU_SNAPSHOT)] == [BookSnapshot]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"{nope", "decode"),
        (b'{"channel":"l2_data","sequence_num":2,"events":' + b"[" * 5000 + b"]" * 5000 + b"}",
         "too_deep"),
        (b'{"channel":"l2_data","sequence_num":2,"events":"x"}', "schema"),
        (_update("59000.00", "1").replace("BTC-USD", "DOGE-XYZ").encode(), "unknown_symbol"),
        (_update("59000.00", "1").replace('"bid"', '"middle"').encode(), "schema"),
        (_update("59000.00", "1").replace("27.214626685Z", "27.x14626685Z").encode(), "schema"),
    ],
)  # fmt: skip
def test_frames_that_cannot_be_used_are_rejected_by_reason(
    offline: Offline, frame: bytes, reason: str
) -> None:
    offline.session(EMU_SNAPSHOT)
    assert offline.feed(frame) == []
    assert offline.ctx.rejects.counts == {reason: 1}
    assert offline.book_problems() == []


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (0, '"price":"60000.02"', '"price":"NaN"'),
        (0, '"size":"1.53319"', '"size":"-1.53319"'),
        (1, '"best_bid":"60000.00"', '"best_bid":"Infinity"'),
        (1, '"volume_24_h":"1.53319"', '"volume_24_h":"１"'),  # noqa: RUF001
        (2, '"open":"60000.02"', '"open":"0"'),
        (2, '"volume":"1.53319"', '"volume":"sNaN"'),
    ],
)
def test_bad_trade_ticker_and_candle_values_never_reach_a_consumer(
    offline: Offline, index: int, field: str, value: str
) -> None:
    frame = EMU_MARKET[index]
    assert field in frame
    assert len(offline.session(frame)) == 1
    assert offline.session(frame.replace(field, value, 1)) == []
    assert offline.ctx.rejects.counts == {"value": 1}


def test_fuzzed_market_frames_never_escape_nor_leave_bad_values(
    offline: Offline, coinbase_data: Path
) -> None:
    real_snapshot = _compact(coinbase_data / "ws_l2_data_snapshot.json")
    real_update = _compact(coinbase_data / "ws_l2_data_update.json")
    # (frames before it, the frame to mutate): each mutated frame meets the book it was for.
    cases = [
        ((), EMU_SNAPSHOT),
        ((EMU_SNAPSHOT,), EMU_UPDATE),
        *(((EMU_SNAPSHOT,), frame) for frame in EMU_MARKET),
        ((), real_snapshot),
        ((real_snapshot,), real_update),
    ]
    stats = {"examples": 0, "rejected": 0}

    @settings(max_examples=2500, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(
        case=st.integers(0, len(cases) - 1).flatmap(
            lambda i: mutated_frames([_numbered(cases[i][1], len(cases[i][0]) + 1)]).map(
                lambda frame: (i, frame)
            )
        )
    )
    def run(case: tuple[int, str]) -> None:
        index, frame = case
        offline.session(*cases[index][0])
        provider: Any = offline.provider
        asm: Any = offline.stage.assembler  # type: ignore[union-attr]
        before = (offline.rejected, provider.gaps, offline.socket.seq.last)
        book_before = asm.book.bids, asm.book.asks
        events = offline.feed(frame)  # must not raise
        for event in events:
            assert not event_problems(event, INSTRUMENTS), (frame[:300], event)
        assert offline.book_problems() == [], frame[:300]
        after = (offline.rejected, provider.gaps, offline.socket.seq.last)
        stats["examples"] += 1
        stats["rejected"] += after[0] > before[0]
        # Used, or its drop counted (rejected, sequence gap), or ignored as a repeat
        # (sequence not advanced), or it left the book as it was.
        used = bool(events) or after[:2] != before[:2] or after[2] == before[2]
        assert used or (asm.book.bids, asm.book.asks) == book_before, frame[:300]

    run()
    assert stats["examples"] >= 2000
    assert stats["rejected"] > stats["examples"] // 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ('"cumulative_quantity":"0"', '"cumulative_quantity":"NaN"'),
        ('"cumulative_quantity":"0"', '"cumulative_quantity":"-1"'),
        ('"leaves_quantity":"1.53419"', '"leaves_quantity":"Infinity"'),
        ('"avg_price":"0"', '"avg_price":"\uff11"'),
        ('"total_fees":"0"', '"total_fees":"1e3"'),
        ('"limit_price":"60000.02"', '"limit_price":"sNaN"'),
    ],
)
def test_a_user_frame_with_a_bad_value_is_rejected_not_reported(field: str, value: str) -> None:
    ctx = RecordingProviderContext("coinbase", CoinbaseSettings())
    reports: list[ExecReport] = []
    adapter: Any = CoinbaseOrderAdapter(
        CoinbaseSettings(), clock=SystemClock(), telemetry=ctx.telemetry,
        reject_frame=ctx.reject_frame,
    )  # fmt: skip
    adapter._emit = reports.append
    frame = _numbered(USER[1], 1)
    assert field in frame, frame
    adapter._on_frame(frame.replace(field, value, 1).encode(), 1)
    assert reports == []
    assert ctx.rejects.counts == {"value": 1}
    assert ctx.events.named("coinbase.bad_frame")
    adapter._on_frame(_numbered(USER[1], 2).encode(), 2)  # the next sane frame is reported
    assert len(reports) == 1


def test_fuzzed_user_frames_never_escape_nor_report_bad_values() -> None:
    ctx = RecordingProviderContext("coinbase", CoinbaseSettings())
    reports: list[ExecReport] = []
    adapter = CoinbaseOrderAdapter(
        CoinbaseSettings(), clock=SystemClock(), telemetry=ctx.telemetry,
        reject_frame=ctx.reject_frame,
    )  # fmt: skip
    raw: Any = adapter
    raw._emit = reports.append
    stats = {"examples": 0, "rejected": 0}

    @settings(max_examples=1500, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(frame=mutated_frames([_numbered(f, 1) for f in USER]))
    def run(frame: str) -> None:
        raw._seq.restart()
        raw.tracker = type(adapter.tracker)(provider="coinbase")
        before_reports, before_rejects = len(reports), ctx.rejects.total
        raw._on_frame(frame.encode(), 1)  # must not raise
        for report in reports[before_reports:]:
            assert not event_problems(report, {}), (frame[:300], report)
        stats["examples"] += 1
        stats["rejected"] += ctx.rejects.total > before_rejects

    run()
    assert stats["examples"] >= 1000
    assert stats["rejected"] > 0


@pytest.mark.anyio
async def test_a_poisoned_book_frame_in_a_live_gateway_resyncs_that_book_without_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def poison(frame: str | bytes) -> bytes:
        text = frame.decode() if isinstance(frame, bytes) else frame
        return re.sub(r'"new_quantity":"[0-9.]+"', '"new_quantity":"NaN"', text, count=1).encode()

    def is_update(conn: object, frame: str | bytes) -> bool:
        text = frame.decode() if isinstance(frame, bytes) else frame
        return '"l2_data"' in text and '"type":"update"' in text and "new_quantity" in text

    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    consumer = RecordingConsumer(
        ["coinbase"], ["BTC-USD"], [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]
    )
    sim = MarketSimulator([default_symbol_spec("BTC-USD")], seed=5, rate=0.001)
    config = EmulatorConfig(venue="coinbase", symbols=("BTC-USD",), seed=5, simulator=sim)
    async with CoinbaseEmulator(config) as emu, venue_gateway(
        "coinbase", emu.client_settings(), consumer,
        consumer_name="coinbase-poison", journal_path=tmp_path / "journal.sqlite3",
    ) as gateway:  # fmt: skip
        await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 1)
        first = gateway.providers["coinbase"].current
        rule = emu.faults.ws(Corrupt(fn=poison), match=is_update, count=1)
        for _ in range(30):  # the market moves: the first book update is poisoned
            sim.step()
        await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 2)
        assert rule.fired == 1
        assert gateway.providers["coinbase"].current is first
        assert gateway.providers["coinbase"].restarts == 0
        for _ in range(30):  # the resynced book keeps following the venue
            sim.step()
        await consumer.until(lambda: _follows(consumer, sim))
    live = {BTC: msgspec.structs.replace(INSTRUMENTS[BTC], qty_precision=5)}
    assert all(not event_problems(e, live) for e in consumer.events)
    lines = [r.getMessage() for r in caplog.records if r.name == "tradegw.frames"]
    assert lines == [lines[0]]
    assert lines[0].startswith("coinbase: rejected a frame for BTC-USD: value: ")


def _follows(consumer: RecordingConsumer, sim: MarketSimulator) -> bool:
    """The consumer's book (last snapshot + updates since) equals the venue's."""
    book = replayed_book(consumer.events)
    venue = sim.book("coinbase", "BTC-USD")
    mine = (
        [(lv.price, lv.qty) for lv in book.top_bids()],
        [(lv.price, lv.qty) for lv in book.top_asks()],
    )
    return mine == (list(venue.bids), list(venue.asks))
