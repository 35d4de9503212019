"""Kraken declares its ordering modes at start-up: trades are contiguous by ``trade_id``.

Trades run on every socket, so a trade one socket lost is waited for (up to the lateness
tolerance) and delivered from the other socket, in order. The v2 book has no sequence.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from tradegw_kraken.config import KrakenSettings
from tradegw_kraken.parsing import KrakenDecoders, trade_event
from tradegw_kraken.provider import KrakenProvider

from tradegw_core.dispatcher import OrderingMode
from tradegw_core.schema.events import EventType, StreamKey, Trade
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.testing.provider import dispatching_context, drain_lane


def _fixture_trades(shared_data: Path) -> list[Trade]:
    """The two consecutive trades of the real ``ws_trade_update.json`` fixture."""
    dec = KrakenDecoders()
    raw = (shared_data / "nautilus" / "kraken" / "ws_trade_update.json").read_bytes()
    frame = dec.decode_frame(raw)
    inst = Instrument(
        provider="kraken", symbol=Symbol("BTC-USD"), venue_symbol="BTC/USD", base="BTC",
        quote="USD", price_step=Decimal("0.1"), qty_step=Decimal("0.00000001"),
        price_precision=1, qty_precision=8,
    )  # fmt: skip
    return [trade_event(t, inst, 0) for t in dec.trade_data(frame)]


def test_the_provider_declares_contiguous_trades() -> None:
    ctx, dispatcher = dispatching_context("kraken", KrakenSettings())
    KrakenProvider(ctx)
    mode = dispatcher.ordering.mode_of
    assert mode(StreamKey("kraken", "BTC-USD", EventType.TRADE)) is OrderingMode.CONTIGUOUS
    assert mode(StreamKey("kraken", "BTC-USD", EventType.BOOK_UPDATE)) is OrderingMode.MONOTONIC


def test_a_trade_lost_on_one_socket_is_delivered_from_the_other_in_order(
    shared_data: Path,
) -> None:
    t208, t209 = _fixture_trades(shared_data)
    assert (t208.seq_provider, t209.seq_provider) == (10218208, 10218209)
    t207: Any = msgspec.structs.replace(
        t208, seq_provider=10218207, event_id="kraken:BTC-USD:Trade:10218207"
    )
    ctx, dispatcher = dispatching_context("kraken", KrakenSettings())
    KrakenProvider(ctx)
    dispatcher.subscribe("c", [StreamKey("kraken", "BTC-USD", EventType.TRADE)])
    for event in (t207, t209, t207, t208, t209):  # socket A lost 208, socket B has it
        ctx.emit(event)
        dispatcher.flush()
    assert [e.seq_provider for e in drain_lane(dispatcher)] == [10218207, 10218208, 10218209]
    assert dispatcher.ordering.stats.gaps == 0
