"""Plugin contracts: what a provider, a book assembler and a consumer are.

These are ``Protocol``s; the core depends on them and never on a venue. The flow of one
market-data frame is a chain of synchronous calls inside the provider's connection reader
task (design section 2): parse -> ``BookStage.on_diff``/``on_snapshot`` (or a direct
``ProviderContext.emit`` for trades/tickers/klines) -> orchestrator -> dispatcher -> lanes.
The venue order side is in :mod:`tradegw_core.contracts_orders`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import msgspec
from anyio.abc import TaskStatus

from tradegw_core.book.orderbook import BookView
from tradegw_core.clock import Clock
from tradegw_core.schema.control import Ack
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
)
from tradegw_core.schema.orders import CancelRequest, CancelResult, OrderRequest, OrderResult
from tradegw_core.schema.symbols import Instrument, Symbol

if TYPE_CHECKING:  # the order path imports this module
    from tradegw_core.orders.state import OpenOrder

__all__ = [
    "BookAssembler",
    "BookOutput",
    "BookStage",
    "BookStageFactory",
    "Consumer",
    "ConsumerContext",
    "ConsumerFactory",
    "EventSink",
    "Provider",
    "ProviderFactory",
    "ResyncNeeded",
    "ResyncReason",
    "StreamSpec",
    "Telemetry",
    "VenueContext",
]

SnapT = TypeVar("SnapT", contravariant=True)
DiffT = TypeVar("DiffT", contravariant=True)

EventSink = Callable[[Event], None]
"""Synchronous hand-off of one canonical event to the orchestrator (hot path, never awaits)."""


class Telemetry(Protocol):
    """The ops-only telemetry bus as producers see it (consumers never see it)."""

    def emit(self, name: str, /, **labels: Any) -> None:
        """Record an ops event such as ``book.resync`` with its labels; never blocks."""
        ...


class StreamSpec(msgspec.Struct, frozen=True, array_like=True):
    """One stream of one provider: a canonical symbol and an event type."""

    symbol: Symbol
    type: EventType


class ResyncReason(enum.StrEnum):
    """Why a book must be rebuilt (the ``reason`` label of ``book.resync``)."""

    GAP = "gap"
    CHECKSUM = "checksum"
    REFRESH = "refresh"
    STALE = "stale"
    RECONNECT = "reconnect"
    INITIAL = "initial"
    REJECTED = "rejected"


class ResyncNeeded(msgspec.Struct, frozen=True, kw_only=True):
    """An assembler's verdict that its book can no longer be trusted."""

    symbol: Symbol
    reason: ResyncReason
    detail: str = ""


BookOutput = BookSnapshot | BookUpdate | ResyncNeeded


class BookAssembler(Protocol[SnapT, DiffT]):
    """A venue's sans-I/O book state machine for one symbol (no awaits, clock, or logging).

    After ``reset()`` (and at creation) it is *unsynced*: diffs are buffered (bounded: when
    the buffer overflows it drops them and the next snapshot decides) until a snapshot
    arrives; then it applies the buffered diffs following the venue's rules and returns the
    fresh ``BookSnapshot`` followed by nothing else (the snapshot already includes them),
    or a ``ResyncNeeded`` when the snapshot is too old for the buffered diffs.
    Once synced every diff gives one ``BookUpdate`` (or nothing when the venue message
    carried no change) or a ``ResyncNeeded`` (gap, checksum), after which it is unsynced.
    """

    @property
    def synced(self) -> bool:
        """True when the book is consistent with the venue."""
        ...

    @property
    def book(self) -> BookView:
        """The current local book (read-only use)."""
        ...

    def reset(self) -> None:
        """Drop the book and start buffering for the next snapshot."""
        ...

    def apply_snapshot(self, msg: SnapT, ts_ingest: int) -> Sequence[BookOutput]:
        """Load a venue snapshot (REST or WebSocket) and replay buffered diffs."""
        ...

    def apply_diff(self, msg: DiffT, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one venue diff, or buffer it while unsynced."""
        ...

    def reconcile(self, msg: SnapT) -> int:
        """Compare the synced local book with a fresh snapshot; return differing levels.

        Used by the periodic refresh of venues without a checksum. Does not change the book.
        """
        ...


class BookStage(Protocol):
    """The core's driver around one assembler (implemented in ``tradegw_core.book.stage``).

    It emits BookSnapshot/BookUpdate through the provider's sink, never lets a diff through
    before the first consistent snapshot, turns ResyncNeeded into a call of the provider's
    ``resync`` callback (paced, with backoff; diffs keep buffering in the assembler
    meanwhile), runs the jittered periodic refresh and the staleness deadline, and emits
    ``book.resync{provider,symbol,reason}`` / ``checksum.failed`` telemetry.
    """

    def on_snapshot(self, msg: Any, ts_ingest: int) -> None:
        """Feed a snapshot (from the provider's REST fetch or the venue's WebSocket)."""
        ...

    def on_diff(self, msg: Any, ts_ingest: int) -> None:
        """Feed a diff from the connection reader (synchronous, hot path)."""
        ...

    def request_resync(self, reason: ResyncReason, detail: str = "") -> None:
        """Ask for a resync from outside the assembler (e.g. after a reconnect)."""
        ...


ResyncCallback = Callable[[Symbol, ResyncReason], Awaitable[None]]
"""Provider callback that (re)obtains a snapshot and feeds it to ``BookStage.on_snapshot``:
a REST fetch on Binance/Coinbase, an unsubscribe + subscribe on Kraken."""

ReconcileCallback = Callable[[Symbol], Awaitable[int | None]]
"""Provider callback for the periodic refresh: fetch a fresh snapshot and return
``assembler.reconcile(snapshot)`` (None when the venue's checksum makes this unnecessary)."""


class BookStageFactory(Protocol):
    """``ProviderContext.book_stage``: build the stage for one symbol."""

    def __call__(
        self,
        symbol: Symbol,
        venue_symbol: str,
        assembler: BookAssembler[Any, Any],
        *,
        resync: ResyncCallback,
        reconcile: ReconcileCallback | None = None,
    ) -> BookStage:
        """Return a stage bound to the provider's sink, telemetry and clock."""
        ...


class VenueContext(Protocol):
    """What the gateway hands every venue-side object: its name, settings, clock, telemetry."""

    @property
    def provider_id(self) -> str:
        """The provider's registered name (e.g. ``binance``)."""
        ...

    @property
    def settings(self) -> Any:
        """The provider's validated settings section (the plugin's pydantic model)."""
        ...

    @property
    def clock(self) -> Clock:
        """The gateway clock."""
        ...

    @property
    def telemetry(self) -> Telemetry:
        """The ops-only telemetry bus."""
        ...

    def reject_frame(
        self,
        reason: str,
        *,
        detail: str = "",
        symbol: Symbol | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Drop a frame that cannot be used; never raises, never restarts anything.

        Counts ``tradegw_provider_frames_rejected_total{provider,reason}`` (``reason`` a
        short token such as ``decode``, ``schema``, ``value``, ``unknown_symbol``,
        ``crossed``: see :data:`tradegw_core.observability.rejects.REASONS`), logs at a
        bounded rate (provider, reason, truncated secret-free ``detail``, the traceback of
        ``exc`` if given) and, when ``symbol``'s book is served, resyncs that one book
        (``book.resync`` with reason ``rejected``).
        """
        ...


class ProviderContext(VenueContext, Protocol):
    """What the gateway hands a provider: its settings and the way into the core."""

    @property
    def metrics(self) -> Any:
        """The gateway's metrics facade (``tradegw_core.observability.metrics.Metrics``)."""
        ...

    def emit(self, event: Event) -> None:
        """Hand a canonical event to the orchestrator (synchronous, hot path)."""
        ...

    book_stage: BookStageFactory

    run_epoch: str
    """Differs for every provider instance (a restart, another process): put it into event
    ids built from connection-local counters so they never repeat an earlier run's ids;
    ids built from the venue's own identifiers (trade ids, update ids) leave it out, so
    copies of one venue message from two connections still collide."""


@runtime_checkable
class Provider(Protocol):
    """A venue's market-data side. It owns its connections and tasks.

    ``run`` is started by the gateway with ``TaskGroup.start``: it loads instruments, opens
    what it needs, calls ``task_status.started()`` once ``subscribe`` may be called, and
    runs until cancelled, closing everything it opened. ``subscribe`` / ``unsubscribe`` are
    called by the core when the first consumer wants a stream and when the last one leaves;
    they send the venue's (un)subscribe on an existing connection (opening more connections
    only where venue limits force it) and return once the venue acked.
    """

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Run the provider until cancelled."""
        ...

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable pairs known to the provider, by canonical symbol (after start-up)."""
        ...

    def supported_types(self) -> frozenset[EventType]:
        """The event types this provider can stream."""
        ...

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Subscribe on the venue; raise ControlError / VenueError with a clear message."""
        ...

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Unsubscribe on the venue without dropping the connection."""
        ...


ProviderFactory = Callable[[ProviderContext], Provider]
"""Registered under the provider's name by ``tradegw_register_providers``."""


class ConsumerContext(Protocol):
    """What a consumer (strategy) gets from the gateway: its only way in.

    Implemented in ``tradegw_core.consumer``. Order methods are served by the order path.
    """

    @property
    def consumer_id(self) -> str:
        """The consumer's configured name."""
        ...

    @property
    def settings(self) -> Any:
        """The consumer's validated settings section (or None)."""
        ...

    @property
    def clock(self) -> Clock:
        """The gateway clock."""
        ...

    @property
    def log(self) -> Any:
        """A structured logger bound to this consumer (adds trace_id / decision_id)."""
        ...

    @property
    def metrics(self) -> Any:
        """The gateway's metrics facade."""
        ...

    async def subscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType]
    ) -> Ack:
        """Subscribe (idempotent); returns the control Ack (``ok`` or a clear ``error``)."""
        ...

    async def unsubscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType]
    ) -> Ack:
        """Unsubscribe; returns the control Ack."""
        ...

    async def merged_subscribe(
        self,
        symbol: str,
        type: EventType,
        providers: Sequence[str],
        *,
        window_ms: int = 10_000,
        max_count: int = 1000,
    ) -> Ack:
        """Ask for one MergedEvent per complete window of ``symbol``/``type`` from
        ``providers`` (design section 7); returns the control Ack."""
        ...

    async def merged_unsubscribe(self, symbol: str, type: EventType) -> Ack:
        """Stop the MergedEvents of ``symbol``/``type``; returns the control Ack."""
        ...

    async def submit_order(self, order: OrderRequest) -> OrderResult:
        """Submit through the trading switch and order handler; the result says what happened."""
        ...

    async def cancel_order(self, request: CancelRequest) -> CancelResult:
        """Cancel one of this consumer's orders."""
        ...

    def open_orders(self) -> list[OpenOrder]:
        """This consumer's open (or in-flight) orders, oldest first."""
        ...

    async def cancel_all(
        self, provider: str | None = None, symbol: str | None = None
    ) -> list[CancelResult]:
        """Cancel every open order of this consumer (optionally one provider / symbol)."""
        ...


class Consumer(Protocol):
    """A strategy. The gateway calls these from the consumer's own task, one at a time.

    Optional: ``async def on_events(self, events: Sequence[Event]) -> None`` takes a batch
    of market-data events (what queued since the consumer's last turn) in one call; when a
    consumer defines it, the gateway calls it instead of ``on_event`` per event
    (``tradegw_core.consumer.Consumer`` has a default that calls ``on_event``).
    """

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Called once before any event: subscribe here."""
        ...

    async def on_event(self, event: Event) -> None:
        """One market-data event (BookSnapshot, BookUpdate, Trade, Ticker, KlineSummary, Merged)."""
        ...

    async def on_exec_report(self, report: ExecReport) -> None:
        """One execution report of this consumer's orders, in order, never dropped."""
        ...

    async def on_stop(self) -> None:
        """Called once at shutdown."""
        ...


ConsumerFactory = Callable[[Any], Consumer]
"""Registered under the consumer's name; called with its settings section (or None)."""
