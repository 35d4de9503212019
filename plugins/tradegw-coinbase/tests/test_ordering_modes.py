"""Coinbase declares every stream monotonic at start-up.

``seq_provider`` is ``(epoch << 32) | sequence_num``: one counter per connection across all
channels, so no single stream is contiguous and a copy from another socket (another epoch)
cannot fill a gap. Nothing is held; later copies of what was passed are dropped.
"""

from __future__ import annotations

from decimal import Decimal

from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.provider import ORDERING_MODES, CoinbaseProvider

from tradegw_core.dispatcher import OrderingMode
from tradegw_core.schema.events import EventType, StreamKey, Trade
from tradegw_core.testing.provider import dispatching_context, drain_lane


def _trade(seq: int) -> Trade:
    return Trade(
        event_id=f"coinbase:BTC-USD:Trade:{seq}",
        provider="coinbase",
        symbol="BTC-USD",
        venue_symbol="BTC-USD",
        seq_provider=seq,
        trade_id=str(seq),
        price=Decimal("100"),
        qty=Decimal("1"),
    )


def test_the_provider_declares_every_stream_monotonic() -> None:
    ctx, dispatcher = dispatching_context("coinbase", CoinbaseSettings())
    CoinbaseProvider(ctx)
    assert set(ORDERING_MODES.values()) == {OrderingMode.MONOTONIC}
    for type_ in (EventType.BOOK_UPDATE, EventType.TRADE, EventType.TICKER):
        key = StreamKey("coinbase", "BTC-USD", type_)
        assert dispatcher.ordering.mode_of(key) is OrderingMode.MONOTONIC


def test_monotonic_never_holds_and_cannot_fill_a_gap_from_the_other_socket() -> None:
    ctx, dispatcher = dispatching_context("coinbase", CoinbaseSettings())
    CoinbaseProvider(ctx)
    dispatcher.subscribe("c", [StreamKey("coinbase", "BTC-USD", EventType.TRADE)])
    for seq in (1, 3, 2):  # 2 comes late from the other socket
        ctx.emit(_trade(seq))
    assert [e.seq_provider for e in drain_lane(dispatcher)] == [1, 3]
    assert dispatcher.ordering.held(StreamKey("coinbase", "BTC-USD", EventType.TRADE)) == 0
    assert dispatcher.ordering.stats.stale_dropped == 1
