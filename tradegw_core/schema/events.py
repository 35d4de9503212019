"""Hot-path canonical events (msgspec Structs, versioned).

Every event carries the header of design section 3. Events are mutable on purpose: the
orchestrator stamps ``routing_version`` and ``trace_id`` in place instead of copying.
Prices and quantities are ``Decimal``; never float.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import ClassVar, TypeAlias

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "AnyEvent",
    "BookSnapshot",
    "BookUpdate",
    "Event",
    "EventType",
    "ExecReport",
    "ExecState",
    "KlineSummary",
    "Level",
    "MergedEvent",
    "Side",
    "StreamKey",
    "Ticker",
    "Trade",
    "decode_event",
    "encode_event",
    "make_event_id",
]

SCHEMA_VERSION = 1


class EventType(enum.StrEnum):
    """The kinds of canonical event; also the ``type`` tag on the wire."""

    BOOK_SNAPSHOT = "BookSnapshot"
    BOOK_UPDATE = "BookUpdate"
    TRADE = "Trade"
    TICKER = "Ticker"
    EXEC_REPORT = "ExecReport"
    KLINE_SUMMARY = "KlineSummary"
    MERGED = "Merged"


class Side(enum.StrEnum):
    """Order side, or a trade's aggressor side."""

    BUY = "buy"
    SELL = "sell"


class ExecState(enum.StrEnum):
    """Canonical execution states (protocol notes, 'Canonical execution states')."""

    ACK = "ACK"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_final(self) -> bool:
        """True for states after which the order can change no more."""
        return self in _FINAL_STATES


_FINAL_STATES = frozenset(
    {ExecState.FILLED, ExecState.CANCELLED, ExecState.REJECTED, ExecState.EXPIRED}
)


class StreamKey(msgspec.Struct, frozen=True, array_like=True):
    """(provider, symbol, type): the unit of ordering, dedup and routing."""

    provider: str
    symbol: str
    type: EventType


def make_event_id(provider: str, symbol: str, type_: EventType | str, key: object) -> str:
    """Deterministic event id: copies of one venue message from two connections collide.

    ``key`` is the venue's sequence (update id, trade id, sequence_num) or, where the venue
    has none, whatever identifies the message (e.g. its exchange timestamp).
    """
    # ``!s``: an EventType formats through Enum.__format__ (Python code, ~0.7 us a call);
    # str() of a StrEnum is its value, in C. The id is the same string either way.
    return f"{provider}:{symbol}:{type_!s}:{key}"


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level; ``qty == 0`` in an update removes the level."""

    price: Decimal
    qty: Decimal


class Event(msgspec.Struct, kw_only=True, tag_field="type"):
    """Header shared by every canonical event."""

    event_id: str
    provider: str
    symbol: str
    venue_symbol: str
    seq_provider: int | None = None
    ts_exchange: int | None = None
    """Venue timestamp, ns since the epoch, if the venue gives one."""
    ts_ingest: int = 0
    """Monotonic ns at frame receipt."""
    routing_version: int = 0
    trace_id: str = ""
    schema_version: int = SCHEMA_VERSION

    TYPE: ClassVar[EventType]

    @property
    def stream_key(self) -> StreamKey:
        """The (provider, symbol, type) this event belongs to."""
        return StreamKey(self.provider, self.symbol, self.TYPE)


class BookSnapshot(Event, tag="BookSnapshot", kw_only=True):
    """Full depth after a (re)sync: bids descending, asks ascending."""

    TYPE: ClassVar[EventType] = EventType.BOOK_SNAPSHOT

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    checksum: int | None = None


class BookUpdate(Event, tag="BookUpdate", kw_only=True):
    """Changed levels (qty 0 removes) covering venue sequence ``first_seq``..``last_seq``.

    ``prev_seq`` is the ``last_seq`` of the previous update (or the snapshot's seq) so a
    consumer can check continuity.
    """

    TYPE: ClassVar[EventType] = EventType.BOOK_UPDATE

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    first_seq: int | None = None
    last_seq: int | None = None
    prev_seq: int | None = None
    checksum: int | None = None


class Trade(Event, tag="Trade", kw_only=True):
    """One trade on the venue; ``side`` is the aggressor's."""

    TYPE: ClassVar[EventType] = EventType.TRADE

    trade_id: str
    price: Decimal
    qty: Decimal
    side: Side | None = None


class Ticker(Event, tag="Ticker", kw_only=True):
    """Best bid/ask and, where the venue gives them, last price and 24 h figures."""

    TYPE: ClassVar[EventType] = EventType.TICKER

    bid_price: Decimal | None = None
    bid_qty: Decimal | None = None
    ask_price: Decimal | None = None
    ask_qty: Decimal | None = None
    last_price: Decimal | None = None
    volume_24h: Decimal | None = None


class KlineSummary(Event, tag="KlineSummary", kw_only=True):
    """One candle; ``closed`` is False while the interval is still running."""

    TYPE: ClassVar[EventType] = EventType.KLINE_SUMMARY

    interval: str
    open_time: int
    close_time: int | None = None
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool = False


class ExecReport(Event, tag="ExecReport", kw_only=True):
    """An order's state change as the venue reported it, mapped to the canonical states."""

    TYPE: ClassVar[EventType] = EventType.EXEC_REPORT

    client_order_id: str
    venue_order_id: str | None = None
    state: ExecState
    side: Side | None = None
    order_qty: Decimal | None = None
    price: Decimal | None = None
    last_qty: Decimal = Decimal(0)
    last_price: Decimal | None = None
    cum_qty: Decimal = Decimal(0)
    leaves_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    reason: str = ""
    venue_status: str = ""
    """The venue's raw status, kept for audit."""
    consumer_id: str = ""
    decision_id: str = ""


class MergedEvent(Event, tag="Merged", kw_only=True):
    """One closed merge window: fragments grouped by provider, each in arrival order."""

    TYPE: ClassVar[EventType] = EventType.MERGED

    merge_id: str
    merge_type: EventType
    window_open: int
    window_close: int
    fragments: dict[str, list[BookSnapshot | BookUpdate | Trade | Ticker | KlineSummary]] = {}


AnyEvent: TypeAlias = (
    BookSnapshot | BookUpdate | Trade | Ticker | KlineSummary | ExecReport | MergedEvent
)

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """JSON-encode an event (Decimals as strings, ``type`` tag included)."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> AnyEvent:
    """Decode JSON produced by :func:`encode_event` back into the typed event."""
    return _decoder.decode(data)
