"""The order journal (issue 19): one that cannot be opened or is corrupt stops start-up
with exit 2 and one line naming the file (no traceback); one deleted or replaced while
running is noticed within a second: global trading off, an error logged, a metric at 0.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from tradegw_core.gateway import run_gateway
from tradegw_core.journal import JournalRecord, JournalStore, OrderPhase
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderRequest, OrderStatus

from .harness import (
    SYMBOL,
    Recorder,
    emulators,
    gateway,
    installed,
    require,
    settings_for,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

VENUE = "coinbase"


def real_journal(path: Path, orders: int = 200) -> None:
    """A healthy journal holding ``orders`` finished orders."""
    store = JournalStore(path)
    store.open()
    try:
        for i in range(orders):
            store.insert_order(
                JournalRecord(
                    provider=VENUE,
                    client_order_id=f"c{i:05d}",
                    consumer_id="strat",
                    symbol=SYMBOL,
                    request="{}" + " " * 200,
                    trace_id="t",
                    phase=OrderPhase.SENT,
                    state="FILLED",
                    cum_qty=Decimal(1),
                    venue_order_id=str(i),
                    result=None,
                    created_ns=i,
                    updated_ns=i,
                )
            )
    finally:
        store.close()


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 100)


def truncated(path: Path) -> None:
    real_journal(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def bit_flipped(path: Path) -> None:
    real_journal(path)
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, len(data), 997):  # damage every page after the first
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def a_directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize("damage", [garbage, truncated, bit_flipped, a_directory])
async def test_a_journal_that_cannot_be_used_exits_2_naming_the_file(
    damage: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regs = installed()
    require(regs, VENUE, trading=True)
    journal = tmp_path / "journal.sqlite3"
    damage(journal)  # type: ignore[operator]
    # No venue needed: the journal is opened before any provider or adapter connects.
    venue = {"rest_url": "http://127.0.0.1:9", "ws_market_url": "ws://127.0.0.1:9"}
    settings = settings_for(regs, {VENUE: venue}, [], journal)
    regs.freeze()
    with anyio.fail_after(10):
        code = await run_gateway(settings, regs, duration=5)
    err = capsys.readouterr().err
    assert code == 2
    assert str(journal) in err
    assert err.count("\n") == 1, err  # one line
    assert "Traceback" not in err


async def test_a_journal_deleted_while_running_stops_trading_within_a_second(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    regs = installed()
    require(regs, VENUE, trading=True)
    journal = tmp_path / "journal.sqlite3"
    rec = Recorder("strat")
    async with (
        emulators(regs, [VENUE], run_market=False) as emus,
        gateway(
            regs, emus, [rec], journal, gateway={"required_providers": [VENUE]}
        ) as gw,
    ):  # fmt: skip
        service = gw.orders.service
        registry = gw.metrics.registry
        assert registry.get_sample_value("tradegw_orders_journal_ok") == 1
        os.remove(journal)
        started = anyio.current_time()
        with caplog.at_level(logging.ERROR, logger="tradegw.orders"):
            await rec.until(lambda: not service.switch.global_enabled, 1.0)
        assert anyio.current_time() - started < 1.0
        assert registry.get_sample_value("tradegw_orders_journal_ok") == 0
        assert any(
            str(journal) in r.getMessage() and "OFF" in r.getMessage() for r in caplog.records
        )
        assert gw.telemetry.count("journal.lost") == 1
        spec = emus[VENUE].sim.specs[SYMBOL]
        result = await rec.ctx.submit_order(
            OrderRequest(
                client_order_id="after-1",
                consumer_id="strat",
                provider=VENUE,
                symbol=SYMBOL,
                side=Side.BUY,
                qty=spec.lot * 100,
                price=spec.price / 2,
            )
        )
        assert result.status is OrderStatus.SUPPRESSED, result


async def test_a_journal_replaced_while_running_is_noticed(tmp_path: Path) -> None:
    regs = installed()
    require(regs, VENUE, trading=True)
    journal = tmp_path / "journal.sqlite3"
    rec = Recorder("strat")
    async with (
        emulators(regs, [VENUE], run_market=False) as emus,
        gateway(regs, emus, [rec], journal, gateway={"required_providers": [VENUE]}) as gw,
    ):
        other = tmp_path / "other.sqlite3"
        sqlite3.connect(other).close()
        os.replace(other, journal)
        await rec.until(lambda: not gw.orders.service.switch.global_enabled, 1.0)
