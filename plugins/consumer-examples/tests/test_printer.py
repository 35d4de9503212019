"""The printer consumer: subscribes from its settings and logs every event it receives."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from tradegw_consumer_examples.printer import PrinterConsumer, PrinterSettings

from tradegw_core.clock import FakeClock
from tradegw_core.observability.logging import StructLogger, configure_logging, get_logger
from tradegw_core.schema.control import Ack
from tradegw_core.schema.events import (
    BookSnapshot,
    EventType,
    ExecReport,
    ExecState,
    Level,
    Side,
    Trade,
)

D = Decimal


class StandInContext:
    """A minimal ConsumerContext: records subscriptions and answers with an Ack."""

    def __init__(self, log: StructLogger, *, ok: bool = True) -> None:
        self.consumer_id = "printer"
        self.settings = None
        self.clock = FakeClock()
        self.log = log
        self.metrics = None
        self.ok = ok
        self.subscriptions: list[
            tuple[tuple[str, ...], tuple[str, ...], tuple[EventType, ...]]
        ] = []

    async def subscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType]
    ) -> Ack:
        self.subscriptions.append((tuple(providers), tuple(symbols), tuple(types)))
        return Ack(request_id="r1", ok=self.ok, error="" if self.ok else "unknown provider 'x'")

    async def unsubscribe(self, *args: Any) -> Ack:
        return Ack(request_id="r2", ok=True)

    async def submit_order(self, order: Any) -> Any:
        raise AssertionError("the printer never trades")

    async def cancel_order(self, request: Any) -> Any:
        raise AssertionError("the printer never trades")


@pytest.fixture
def logged() -> Iterator[tuple[io.StringIO, StructLogger]]:
    buf = io.StringIO()
    handler = configure_logging("INFO", "json", stream=buf, logger_name="tradegw.consumer.test")
    yield buf, get_logger("tradegw.consumer.test", consumer="printer")
    logging.getLogger("tradegw.consumer.test").removeHandler(handler)


def records(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def trade() -> Trade:
    return Trade(
        event_id="binance:BTC-USDT:Trade:1",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=1,
        trade_id="1",
        price=D("27000.10"),
        qty=D("0.5"),
        side=Side.BUY,
    )


@pytest.mark.anyio
async def test_subscribes_with_configured_streams_and_logs_events(
    logged: tuple[io.StringIO, StructLogger],
) -> None:
    buf, log = logged
    settings = PrinterSettings(
        providers=("binance",),
        symbols=("BTC-USDT",),
        types=(EventType.TRADE, EventType.BOOK_SNAPSHOT),
        max_levels=1,
    )
    consumer = PrinterConsumer(settings)
    ctx = StandInContext(log)

    await consumer.on_start(ctx)
    await consumer.on_event(trade())
    await consumer.on_event(
        BookSnapshot(
            event_id="e2",
            provider="binance",
            symbol="BTC-USDT",
            venue_symbol="BTCUSDT",
            bids=(Level(D("1"), D("2")), Level(D("0.9"), D("1"))),
            asks=(Level(D("1.1"), D("3")),),
        )
    )
    await consumer.on_exec_report(
        ExecReport(
            event_id="e3",
            provider="binance",
            symbol="BTC-USDT",
            venue_symbol="BTCUSDT",
            client_order_id="c-1",
            state=ExecState.FILLED,
            cum_qty=D("1"),
            decision_id="d-7",
        )
    )
    await consumer.on_stop()

    assert ctx.subscriptions == [
        (("binance",), ("BTC-USDT",), (EventType.TRADE, EventType.BOOK_SNAPSHOT))
    ]
    subscribed, traded, book, report, stopped = records(buf)
    assert subscribed["event"] == "printer.subscribed"
    assert subscribed["types"] == [
        "Trade",
        "BookSnapshot",
    ]
    assert traded["event"] == "printer.event"
    assert (traded["type"], traded["price"], traded["qty"], traded["side"]) == (
        "Trade",
        "27000.10",
        "0.5",
        "buy",
    )
    assert traded["consumer"] == "printer"
    assert traded["seq"] == 1
    assert book["bids"] == ["2@1"]
    assert book["asks"] == ["3@1.1"]
    assert (report["client_order_id"], report["state"], report["decision_id"]) == (
        "c-1",
        "FILLED",
        "d-7",
    )
    assert (stopped["events"], stopped["reports"]) == (2, 1)


@pytest.mark.anyio
async def test_refused_subscription_is_logged_as_an_error(
    logged: tuple[io.StringIO, StructLogger],
) -> None:
    buf, log = logged
    consumer = PrinterConsumer(PrinterSettings(providers=("x",), symbols=("BTC-USDT",)))

    await consumer.on_start(StandInContext(log, ok=False))

    (line,) = records(buf)
    assert line["level"] == "ERROR"
    assert line["error"] == "unknown provider 'x'"


@pytest.mark.anyio
async def test_without_settings_nothing_is_subscribed(
    logged: tuple[io.StringIO, StructLogger],
) -> None:
    buf, log = logged
    consumer = PrinterConsumer(None)
    ctx = StandInContext(log)

    await consumer.on_event(trade())  # before on_start: counted, not logged
    await consumer.on_start(ctx)

    assert ctx.subscriptions == []
    assert consumer.events == 1
    (line,) = records(buf)
    assert line["event"] == "printer.nothing_to_subscribe"


def test_settings_validate_types_and_refuse_unknown_keys() -> None:
    assert PrinterSettings.model_validate({"types": ["Ticker"]}).types == (EventType.TICKER,)
    with pytest.raises(ValueError, match="types"):
        PrinterSettings.model_validate({"types": ["Candles"]})
    with pytest.raises(ValueError, match="colour"):
        PrinterSettings.model_validate({"colour": "red"})


@pytest.mark.anyio
async def test_works_with_a_plain_stdlib_logger(
    logged: tuple[io.StringIO, StructLogger],
) -> None:
    buf, _ = logged
    plain = logging.getLogger("tradegw.consumer.test")
    consumer = PrinterConsumer(PrinterSettings(providers=("binance",), symbols=("BTC-USDT",)))

    await consumer.on_start(StandInContext(plain))  # type: ignore[arg-type]
    await consumer.on_event(trade())

    subscribed, traded = records(buf)
    assert subscribed["providers"] == ["binance"]
    assert traded["price"] == "27000.10"
