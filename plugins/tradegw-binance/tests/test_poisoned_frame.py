"""A poisoned Binance frame in a live gateway: rejected and counted, the book resyncs, no restart.

The Binance emulator serves a real gateway over loopback; a fault rule rewrites one
``depthUpdate`` on the wire so its first bid price is ``NaN`` (or so it adds a bid
crossing the book). Each is rejected (counted by reason), that book is
resynced from a fresh REST snapshot, the provider is never restarted, and nothing
malformed reaches the consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from tradegw_binance.emulator import BinanceEmulator

from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import Corrupt
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.recorders import RecordingConsumer

pytestmark = pytest.mark.anyio

METRIC = "tradegw_provider_frames_rejected_total"


def _poison(edit: Callable[[dict], None]) -> Callable[[str | bytes], str | bytes]:
    def corrupt(frame: str | bytes) -> str | bytes:
        doc = json.loads(frame)
        edit(doc["data"])
        return json.dumps(doc)

    return corrupt


def _nan_bid(data: dict) -> None:
    data["b"] = [["NaN", "1.00000000"], *data["b"]]


def _crossing_bid(data: dict) -> None:
    data["b"] = [["999999.00000000", "1.00000000"], *data["b"]]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [(_nan_bid, "value"), (_crossing_bid, "crossed")],
)
async def test_a_poisoned_depth_frame_resyncs_its_book_without_a_restart(
    tmp_path: Path, edit: Callable[[dict], None], reason: str
) -> None:
    consumer = RecordingConsumer(
        ["binance"], ["BTC-USDT"], [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]
    )
    config = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), seed=5, rate=0.001)
    async with (
        BinanceEmulator(config) as emu,
        venue_gateway(
            "binance", emu.client_settings(), consumer, journal_path=tmp_path / "j.sqlite3"
        ) as gw,
    ):
        with anyio.fail_after(20):
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            emu.sim.step()
            await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 1)
            rule = emu.faults.ws(
                Corrupt(_poison(edit)),
                match=lambda conn, frame: "depthUpdate" in str(frame),
                count=1,
            )
            while not rule.fired:
                emu.sim.step()
                await anyio.sleep(0.01)
            await consumer.until(lambda: len(consumer.of(BookSnapshot)) == 2)  # resynced
        assert gw.metrics.value(METRIC, provider="binance", reason=reason) == 1
        assert gw.providers["binance"].restarts == 0  # the same provider, never restarted
    for event in consumer.of(BookUpdate) + consumer.of(BookSnapshot):
        for level in (*event.bids, *event.asks):
            assert level.price.is_finite()
            assert level.price > 0
            assert level.price < 900_000  # the crossing bid never reached the consumer
            assert level.qty.is_finite()
            assert level.qty >= 0
