"""Hostile frames into the real Kraken frame handler, book stage and executions mapper.

Every frame handler is total: whatever the bytes, nothing escapes; a frame that cannot be
used is rejected (counted by reason through ``ctx.reject_frame``), a bad book frame
resyncs that book, and no malformed value is kept in a book or reaches a consumer. The
fuzz tests mutate real frames: the emulator's recorded depth-10 book session and
execution reports (``resources/``) and the nautilus fixtures of Kraken's documented
trade/ticker/ohlc frames.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradegw_kraken.checksum import book_checksum
from tradegw_kraken.config import KrakenSettings
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.orders import KrakenOrderAdapter
from tradegw_kraken.provider import KrakenProvider
from tradegw_kraken.symbols import KrakenPair, KrakenSymbolMap

from tradegw_core.clock import SystemClock
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    Level,
)
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import Corrupt
from tradegw_core.testing.books import replayed_book
from tradegw_core.testing.fuzz import book_problems, event_problems, mutated_frames
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import RecordingConsumer

RESOURCES = Path(__file__).resolve().parent / "resources"
BTC, ETH = Symbol("BTC-USD"), Symbol("ETH-USD")


def _inst(symbol: str, pp: int, qp: int) -> Instrument:
    base, quote = symbol.split("-")
    return Instrument(
        provider="kraken", symbol=Symbol(symbol), venue_symbol=f"{base}/{quote}", base=base,
        quote=quote, price_step=Decimal(1).scaleb(-pp), qty_step=Decimal(1).scaleb(-qp),
        price_precision=pp, qty_precision=qp,
    )  # fmt: skip


# The emulated BTC/USD (tick 0.01, lot 0.00001); ETH/USD carries the nautilus frames.
INSTRUMENTS = {BTC: _inst("BTC-USD", 2, 5), ETH: _inst("ETH-USD", 2, 8)}


def _lines(name: str) -> list[str]:
    text = (RESOURCES / name).read_text().strip()
    if text.startswith("[\n"):
        return [line.rstrip(",") for line in text[1:-1].strip().splitlines()]
    return [text]


SNAPSHOT = _lines("kraken_book_snapshot_depth10.json")[0]
UPDATES = _lines("kraken_book_updates_depth10.json")
EXECUTIONS = _lines("kraken_executions_sweep_fill.json")


def _nautilus(shared_data: Path, name: str) -> str:
    path = shared_data / "nautilus" / "kraken" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    compact = msgspec.json.format(path.read_bytes(), indent=-1).decode()  # numbers kept as text
    return compact.replace('"BTC/USD"', '"ETH/USD"')


class Offline:
    """A KrakenProvider with BTC/USD's book (depth 10) and ETH/USD's trades, tickers and
    candles subscribed, fed directly through its frame handler (no socket)."""

    def __init__(self) -> None:
        self.ctx = RecordingProviderContext("kraken", KrakenSettings(book_depth=10))
        self.provider = KrakenProvider(self.ctx)
        provider: Any = self.provider  # test set-up reaches into the provider's tables
        provider._symbols = KrakenSymbolMap(KrakenPair(instrument=i) for i in INSTRUMENTS.values())
        provider._wanted["book"].add(BTC)
        provider._book_types[BTC] = {EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE}
        provider._make_stage(BTC)
        for channel in ("trade", "ticker", "ohlc"):
            provider._wanted[channel].add(ETH)
        self.stage = self.ctx.book_stage.get(BTC)
        assert self.stage is not None

    def feed(self, frame: str | bytes) -> list[Event]:
        """Hand one frame to the provider; the events it emitted."""
        before = len(self.ctx.events.items)
        self.provider._on_frame(frame.encode() if isinstance(frame, str) else frame, 1)
        return [e for e in self.ctx.events.items[before:] if isinstance(e, Event)]

    @property
    def rejected(self) -> int:
        return self.ctx.rejects.total

    def book_problems(self) -> list[str]:
        """What is wrong with the kept book: bad values, crossed, deeper than subscribed."""
        asm: Any = self.stage.assembler  # type: ignore[union-attr]
        return book_problems(INSTRUMENTS[BTC], asm.top_bids(), asm.top_asks(), depth=10)


@pytest.fixture
def offline() -> Offline:
    return Offline()


def _update(bids: str = "[]", asks: str = "[]", checksum: int = 1) -> str:
    return (
        '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":' + bids
        + ',"asks":' + asks + ',"checksum":' + str(checksum)
        + ',"timestamp":"2026-11-24T21:51:25.831381Z"}]}'
    )  # fmt: skip


def test_recorded_session_is_accepted_whole(offline: Offline) -> None:
    events = [e for frame in [SNAPSHOT, *UPDATES] for e in offline.feed(frame)]
    assert [type(e) for e in events] == [BookSnapshot] + [BookUpdate] * len(UPDATES)
    assert offline.rejected == 0
    assert offline.book_problems() == []


HOSTILE_LEVELS = [
    ('{"price":"NaN","qty":1.0}', "value"),
    ('{"price":"sNaN","qty":1.0}', "value"),
    ('{"price":"Infinity","qty":1.0}', "value"),
    ('{"price":59999.90,"qty":"-Infinity"}', "value"),
    ('{"price":-59999.90,"qty":1.0}', "value"),
    ('{"price":0,"qty":1.0}', "value"),
    ('{"price":59999.90,"qty":-1.0}', "value"),
    ('{"price":59999.905,"qty":1.0}', "value"),  # finer than the 0.01 tick
    ('{"price":59999.90,"qty":1.000001}', "value"),  # finer than the 0.00001 lot
    ('{"price":1e400,"qty":1.0}', "value"),
    ('{"price":"５９９９９.９","qty":1.0}', "value"),  # full-width digits  # noqa: RUF001
    ('{"price":"abc","qty":1.0}', "schema"),
    ('{"price":59999.90}', "schema"),
    ('{"price":[59999.90],"qty":1.0}', "schema"),
    ('{"price":70000.00,"qty":1.0}', "crossed"),  # a bid above the best ask
]


@pytest.mark.parametrize(("level", "reason"), HOSTILE_LEVELS)
def test_a_bad_level_rejects_the_frame_and_resyncs_the_book(
    offline: Offline, level: str, reason: str
) -> None:
    offline.feed(SNAPSHOT)
    assert offline.stage.live  # type: ignore[union-attr]
    assert offline.feed(_update(bids="[" + level + "]")) == []
    assert offline.ctx.rejects.counts == {reason: 1}
    assert not offline.stage.live  # type: ignore[union-attr]
    assert [r["reason"] for r in offline.ctx.events.named("book.resync")] == ["rejected"]
    assert offline.book_problems() == []
    assert offline.stage.assembler.top_bids() == []  # type: ignore[union-attr]
    # The venue's fresh snapshot makes the book live again.
    assert [type(e) for e in offline.feed(SNAPSHOT)] == [BookSnapshot]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"{nope", "decode"),
        (b"[" * 5000 + b"]" * 5000, "schema"),  # not an object: refused at the first byte
        (
            b'{"channel":"book","type":"update","data":' + b"[" * 5000 + b"]" * 5000 + b"}",
            "too_deep",
        ),
        (b'{"channel":"book","type":"update","data":{"symbol":"BTC/USD"}}', "schema"),
        (b'{"channel":"book","type":"update"}', "schema"),
        (_update().replace("BTC/USD", "DOGE/XYZ").encode(), "unknown_symbol"),
        (_update().replace("2026-11-24T21", "2026-１1-24T21").encode(), "value"),  # noqa: RUF001
        (_update().replace("2026-11-24T21", "2026-13-24T21").encode(), "schema"),
    ],
)
def test_frames_that_cannot_be_used_are_rejected_by_reason(
    offline: Offline, frame: bytes, reason: str
) -> None:
    offline.feed(SNAPSHOT)
    assert offline.feed(frame) == []
    assert offline.ctx.rejects.counts == {reason: 1}


def test_a_huge_book_frame_is_rejected_not_kept(offline: Offline) -> None:
    offline.feed(SNAPSHOT)
    levels = ",".join(f'{{"price":{50000 - i}.00,"qty":1.0}}' for i in range(20000))
    assert offline.feed(_update(bids="[" + levels + "]")) == []
    assert offline.rejected == 0  # well-formed: the checksum says it is not the venue's book
    assert offline.stage.assembler.checksum_failures == 1  # type: ignore[union-attr]
    assert offline.book_problems() == []


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("ws_trade_update.json", '"price": 105944.20', '"price": "NaN"'),
        ("ws_trade_update.json", '"qty": 0.00027625', '"qty": -0.00027625'),
        ("ws_trade_update.json", '"price": 105944.20', '"price": 105944.201'),
        ("ws_ticker_snapshot.json", '"bid": 105944.20', '"bid": "Infinity"'),
        ("ws_ticker_snapshot.json", '"volume": 163.28908096', '"volume": -1'),
        ("ws_ohlc_update.json", '"open": 106038.2', '"open": 0'),
        ("ws_ohlc_update.json", '"volume": 30927.68066226', '"volume": "sNaN"'),
    ],
)
def test_bad_trade_ticker_and_candle_values_never_reach_a_consumer(
    offline: Offline, shared_data: Path, name: str, field: str, value: str
) -> None:
    path = shared_data / "nautilus" / "kraken" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    text = path.read_text().replace('"BTC/USD"', '"ETH/USD"')
    assert field in text
    good = offline.feed(text)
    assert good
    assert all(not event_problems(e, INSTRUMENTS) for e in good)
    bad = offline.feed(text.replace(field, value, 1))
    assert len(bad) == len(good) - 1  # only the bad entry is missing (a trade frame has two)
    assert all(not event_problems(e, INSTRUMENTS) for e in bad)
    assert offline.ctx.rejects.counts == {"value": 1}


def test_fuzzed_market_frames_never_escape_nor_leave_bad_values(
    offline: Offline, shared_data: Path
) -> None:
    # Each example replays the recorded session up to one frame, then that frame mutated,
    # so a mutated update is judged against the book it was sent for.
    seeds = [SNAPSHOT, *UPDATES] + [
        _nautilus(shared_data, n)
        for n in ("ws_trade_update.json", "ws_ticker_snapshot.json", "ws_ohlc_update.json")
    ]
    stats = {"examples": 0, "rejected": 0}

    @settings(
        max_examples=2500,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        case=st.integers(0, len(seeds) - 1).flatmap(
            lambda i: mutated_frames([seeds[i]]).map(lambda frame: (i, frame))
        )
    )
    def run(case: tuple[int, str]) -> None:
        index, frame = case
        for earlier in [SNAPSHOT, *UPDATES][: max(1, min(index, len(UPDATES) + 1))]:
            offline.feed(earlier)
        asm: Any = offline.stage.assembler  # type: ignore[union-attr]
        before = (offline.rejected, asm.checksum_failures, asm.dropped_unsynced)
        book_before = (asm.top_bids(), asm.top_asks())
        events = offline.feed(frame)  # must not raise
        for event in events:
            assert not event_problems(event, INSTRUMENTS), (frame[:300], event)
        assert offline.book_problems() == [], frame[:300]
        after = (offline.rejected, asm.checksum_failures, asm.dropped_unsynced)
        stats["examples"] += 1
        stats["rejected"] += after[0] > before[0]
        # Every frame was used, or its drop was counted (rejected, checksum, unsynced),
        # or it left the book as it was (e.g. a channel the provider does not read).
        used = bool(events) or after != before
        assert used or (asm.top_bids(), asm.top_asks()) == book_before, frame[:300]

    run()
    assert stats["examples"] >= 2000
    assert stats["rejected"] > stats["examples"] // 4


def _execution_adapter() -> tuple[Any, RecordingProviderContext, list[ExecReport]]:
    ctx = RecordingProviderContext("kraken", KrakenSettings())
    reports: list[ExecReport] = []
    adapter: Any = KrakenOrderAdapter(
        KrakenSettings(), clock=SystemClock(), telemetry=ctx.telemetry,
        reject_frame=ctx.reject_frame,
    )  # fmt: skip
    adapter._symbols = KrakenSymbolMap([KrakenPair(instrument=INSTRUMENTS[BTC])])
    adapter._emit = reports.append
    return adapter, ctx, reports


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ('"last_qty":1.15181', '"last_qty":"NaN"'),
        ('"last_qty":1.15181', '"last_qty":-1.15181'),
        ('"last_price":59999.95', '"last_price":0'),
        ('"cum_qty":1.15181', '"cum_qty":"Infinity"'),
        ('"cost":69108.5424095', '"cost":"sNaN"'),
        ('"qty":179.68221026470', '"qty":"-Infinity"'),
        ('"timestamp":"2026-11-24T21:51:26.747780Z"', '"timestamp":"yesterday"'),
    ],
)
def test_an_execution_with_a_bad_value_is_rejected_not_reported(field: str, value: str) -> None:
    adapter, ctx, reports = _execution_adapter()
    adapter._on_frame(EXECUTIONS[0].encode(), 1)
    assert [r.state.value for r in reports] == ["ACK"]
    assert field in EXECUTIONS[1]
    adapter._on_frame(EXECUTIONS[1].replace(field, value, 1).encode(), 2)
    assert len(reports) == 1  # the fill was not reported with a malformed value
    assert sum(ctx.rejects.counts.values()) == 1
    assert ctx.events.named("frame.malformed")
    # The next, sane frame still goes through: nothing restarted, nothing half-applied.
    adapter._on_frame(EXECUTIONS[1].encode(), 3)
    assert [r.state.value for r in reports] == ["ACK", "PARTIAL"]


def test_fuzzed_execution_frames_never_escape_nor_report_bad_values() -> None:
    ctx = RecordingProviderContext("kraken", KrakenSettings())
    reports: list[ExecReport] = []
    adapter = KrakenOrderAdapter(
        KrakenSettings(), clock=SystemClock(), telemetry=ctx.telemetry,
        reject_frame=ctx.reject_frame,
    )  # fmt: skip
    raw: Any = adapter
    raw._symbols = KrakenSymbolMap([KrakenPair(instrument=INSTRUMENTS[BTC])])
    raw._emit = reports.append
    stats = {"examples": 0, "rejected": 0}

    @settings(max_examples=1500, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(frame=mutated_frames(EXECUTIONS))
    def run(frame: str) -> None:
        raw._mapper.reset_sequence()
        before_reports, before_rejects = len(reports), ctx.rejects.total
        raw._on_frame(frame.encode(), 1)  # must not raise
        for report in reports[before_reports:]:
            assert not event_problems(report, {}), (frame[:300], report)
        stats["examples"] += 1
        stats["rejected"] += ctx.rejects.total > before_rejects

    run()
    assert stats["examples"] >= 1000
    assert stats["rejected"] > 0
    assert json.loads(EXECUTIONS[0])["channel"] == "executions"


@pytest.mark.anyio
async def test_a_poisoned_book_frame_in_a_live_gateway_resyncs_that_book_without_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def poison(frame: str | bytes) -> str:
        text = frame.decode() if isinstance(frame, bytes) else frame
        return re.sub(r'"price":[0-9.]+', '"price":"NaN"', text, count=1)

    def is_update(conn: object, frame: str | bytes) -> bool:
        text = frame.decode() if isinstance(frame, bytes) else frame
        return '"channel":"book"' in text and '"type":"update"' in text and '"price"' in text

    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    consumer = RecordingConsumer(
        ["kraken"], ["BTC-USD"], [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]
    )
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD",), seed=13, rate=0.001)
    async with KrakenEmulator(config) as emu, venue_gateway(
        "kraken", emu.client_settings(), consumer,
        consumer_name="kraken-poison", journal_path=tmp_path / "journal.sqlite3",
    ) as gateway:  # fmt: skip
        await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 1)
        first = gateway.providers["kraken"].current
        rule = emu.faults.ws(Corrupt(fn=poison), match=is_update, count=1)
        for _ in range(30):  # the market moves: the first book update is poisoned
            emu.sim.step()
        await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 2)
        assert rule.fired == 1
        assert gateway.providers["kraken"].current is first
        assert gateway.providers["kraken"].restarts == 0
        for _ in range(30):  # the resynced book keeps following the venue
            emu.sim.step()
        await consumer.until(lambda: _follows(consumer, emu))
    assert all(not event_problems(e, INSTRUMENTS_LIVE) for e in consumer.events)
    lines = [r.getMessage() for r in caplog.records if r.name == "tradegw.frames"]
    assert lines == [lines[0]]
    assert lines[0].startswith("kraken: rejected a frame for BTC-USD: value: ")


INSTRUMENTS_LIVE = {BTC: _inst("BTC-USD", 2, 5)}


def _follows(consumer: RecordingConsumer, emu: KrakenEmulator) -> bool:
    """The consumer's book (last snapshot + updates since) equals the venue's top 10."""
    book = replayed_book(consumer.events)
    venue = emu.books["BTC-USD"]
    return book.top_bids() == venue.top("bids", 10) and book.top_asks() == venue.top("asks", 10)


def test_a_bad_level_below_the_checksummed_top_10_is_not_kept() -> None:
    # Depth 25: levels 11..25 are outside the CRC32, so only the value checks guard them.
    ctx = RecordingProviderContext("kraken", KrakenSettings(book_depth=25))
    provider: Any = KrakenProvider(ctx)
    provider._symbols = KrakenSymbolMap([KrakenPair(instrument=INSTRUMENTS[BTC])])
    provider._wanted["book"].add(BTC)
    provider._make_stage(BTC)
    stage: Any = ctx.book_stage.get(BTC)
    bids = [(Decimal("59000") - i, Decimal("1")) for i in range(25)]
    asks = [(Decimal("61000") + i, Decimal("1")) for i in range(25)]
    checksum = book_checksum([Level(p, q) for p, q in asks], [Level(p, q) for p, q in bids], 2, 5)
    levels = ",".join(f'{{"price":{p}.00,"qty":{q}.00000}}' for p, q in bids)
    others = ",".join(f'{{"price":{p}.00,"qty":{q}.00000}}' for p, q in asks)
    snapshot = (
        '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[' + levels
        + '],"asks":[' + others + f'],"checksum":{checksum}}}]}}'
    )  # fmt: skip
    provider._on_frame(snapshot.encode(), 1)
    assert stage.live
    assert len(stage.assembler.top_bids()) == 25
    deep = _update(bids='[{"price":58980.00,"qty":"NaN"}]', checksum=checksum)
    provider._on_frame(deep.encode(), 2)  # the 21st bid: no checksum could see it
    assert ctx.rejects.counts == {"value": 1}
    assert not stage.live
    assert stage.assembler.top_bids() == []
