"""Shared pieces of the engine tests: event builders, a fake provider, a recording consumer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.contracts import ProviderContext, StreamSpec
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    ExecState,
    Trade,
    make_event_id,
)
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.testing.recorders import RecordingConsumer as BaseRecordingConsumer


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"


def trade(
    seq: int | None, *, provider: str = "fake", symbol: str = "BTC-USDT", ts: int = 0
) -> Trade:
    """A trade whose venue seq is ``seq`` (its event id follows the seq, like a venue's)."""
    key: object = seq if seq is not None else f"ts{ts}"
    return Trade(
        event_id=make_event_id(provider, symbol, EventType.TRADE, key),
        provider=provider,
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        seq_provider=seq,
        ts_ingest=ts,
        trade_id=str(seq),
        price=Decimal("100.5"),
        qty=Decimal("0.25"),
    )


def update(
    first: int, last: int, *, provider: str = "fake", symbol: str = "BTC-USDT"
) -> BookUpdate:
    """A book update covering venue seqs ``first``..``last``."""
    return BookUpdate(
        event_id=make_event_id(provider, symbol, EventType.BOOK_UPDATE, last),
        provider=provider,
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        seq_provider=last,
        first_seq=first,
        last_seq=last,
    )


def snapshot(seq: int, *, provider: str = "fake", symbol: str = "BTC-USDT") -> BookSnapshot:
    """A book snapshot at venue seq ``seq``."""
    return BookSnapshot(
        event_id=make_event_id(provider, symbol, EventType.BOOK_SNAPSHOT, seq),
        provider=provider,
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        seq_provider=seq,
    )


def exec_report(n: int, *, consumer: str = "rec") -> ExecReport:
    """An exec report of order ``n`` for ``consumer``."""
    return ExecReport(
        event_id=f"fake:exec:{n}",
        provider="fake",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        client_order_id=f"o{n}",
        state=ExecState.ACK,
        consumer_id=consumer,
    )


def _instrument(symbol: str) -> Instrument:
    base, quote = symbol.split("-")
    return Instrument(
        provider="fake",
        symbol=Symbol(symbol),
        venue_symbol=base + quote,
        base=base,
        quote=quote,
        price_step=Decimal("0.01"),
        qty_step=Decimal("0.001"),
    )


class FakeProvider:
    """An in-memory ``contracts.Provider``: records venue (un)subscribes, emits on demand."""

    def __init__(self, ctx: ProviderContext, tracker: ProviderTracker) -> None:
        self.ctx = ctx
        self.tracker = tracker
        self.subscribed: list[list[StreamSpec]] = []
        self.unsubscribed: list[list[StreamSpec]] = []
        self.crash = anyio.Event()
        self._instruments = {Symbol(s): _instrument(s) for s in ("BTC-USDT", "ETH-USDT")}

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Start at once (or fail, when the tracker says so); run until crashed."""
        if self.tracker.fail_on_start:
            raise RuntimeError("venue unreachable")
        task_status.started()
        self.tracker.started(self)
        await self.crash.wait()
        raise RuntimeError("connection lost for good")

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Two pairs."""
        return self._instruments

    def supported_types(self) -> frozenset[EventType]:
        """Trades and book data."""
        return frozenset({EventType.TRADE, EventType.BOOK_UPDATE, EventType.BOOK_SNAPSHOT})

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Record the venue subscribe."""
        self.subscribed.append(list(streams))

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Record the venue unsubscribe."""
        self.unsubscribed.append(list(streams))

    def emit(self, event: Event) -> None:
        """Push one event into the gateway, as a connection reader would."""
        self.ctx.emit(event)


class ProviderTracker:
    """Builds FakeProviders (the registered factory) and lets a test wait for starts."""

    def __init__(self, *, fail_on_start: bool = False) -> None:
        self.fail_on_start = fail_on_start
        self.instances: list[FakeProvider] = []
        self._running: list[FakeProvider] = []
        self._changed = anyio.Event()

    def __call__(self, ctx: ProviderContext) -> FakeProvider:
        provider = FakeProvider(ctx, self)
        self.instances.append(provider)
        return provider

    def started(self, provider: FakeProvider) -> None:
        """Called by a provider once running."""
        self._running.append(provider)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_started(self, count: int) -> FakeProvider:
        """Wait until ``count`` instances have started; return the latest."""
        while len(self._running) < count:
            await self._changed.wait()
        return self._running[-1]


class RecordingConsumer(BaseRecordingConsumer):
    """The core's recording consumer, also noting the arrival order of events and reports."""

    def __init__(self, settings: Any = None) -> None:
        super().__init__()
        self.settings = settings
        self.order: list[str] = []

    async def on_event(self, event: Event) -> None:
        """Record one event and its kind."""
        self.order.append(type(event).__name__)
        await super().on_event(event)

    async def on_exec_report(self, report: ExecReport) -> None:
        """Record one report."""
        self.order.append("ExecReport")
        await super().on_exec_report(report)

    async def wait_for(self, cond: Callable[[RecordingConsumer], bool]) -> None:
        """Wait (bounded) until ``cond(self)`` holds."""
        await self.until(lambda: cond(self))
