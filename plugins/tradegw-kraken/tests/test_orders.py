"""The order adapter against the Kraken emulator on loopback: signed REST, executions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from tradegw_kraken.config import KrakenSettings
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.orders import KrakenOrderAdapter, validate_cl_ord_id

from tradegw_core.clock import SystemClock
from tradegw_core.errors import (
    AuthenticationError,
    ConfigError,
    DuplicateOrderError,
    OrderOutcomeUnknownError,
    OrderValidationError,
    VenueRejectedError,
)
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderType, TimeInForce
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import AcceptThenTimeout
from tradegw_core.testing.recorders import EventRecorder

pytestmark = pytest.mark.anyio
BTC = Symbol("BTC-USD")


class Reports(EventRecorder):
    """Collects ExecReports and wakes waiters."""

    def states(self, cl: str) -> list[ExecState]:
        return [r.state for r in self.items if r.client_order_id == cl]


@pytest.fixture
async def emu() -> AsyncIterator[KrakenEmulator]:
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD",), seed=9, rate=0.001)
    async with KrakenEmulator(config) as emulator:
        yield emulator


def _settings(
    emu: KrakenEmulator, secret: str | None = None, timeout: float = 5.0
) -> KrakenSettings:
    settings: KrakenSettings = emu.client_settings(
        api_secret=secret or emu.credentials[0].api_secret,
        request_timeout_s=timeout,
        heartbeat_timeout_s=30.0,
    )
    return settings


@pytest.fixture
async def adapter(emu: KrakenEmulator) -> AsyncIterator[tuple[KrakenOrderAdapter, Reports]]:
    reports = Reports()
    adapter = KrakenOrderAdapter(_settings(emu, timeout=1.0), clock=SystemClock())
    async with anyio.create_task_group() as tg:
        await tg.start(adapter.run, reports)
        yield adapter, reports
        tg.cancel_scope.cancel()


def _order(cl: str, qty: Decimal, price: Decimal | None, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        client_order_id=cl, consumer_id="c1", provider="kraken", symbol=BTC, side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET, qty=qty, price=price,
    )  # fmt: skip


async def test_sweeping_order_goes_ack_partial_filled(emu: KrakenEmulator, adapter: Any) -> None:
    orders, reports = adapter
    ask1, ask2 = emu.books["BTC-USD"].top("asks", 2)
    qty = ask1.qty + (ask2.qty / 2).quantize(Decimal("0.00001"))
    ack = await orders.submit(_order("tg-sweep-1", qty, ask2.price))
    assert ack.client_order_id == "tg-sweep-1"
    assert ack.venue_order_id
    await reports.until(lambda: ExecState.FILLED in reports.states("tg-sweep-1"))
    assert reports.states("tg-sweep-1") == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    _ack_r, partial, filled = [r for r in reports.items if r.client_order_id == "tg-sweep-1"]
    assert partial.last_qty == ask1.qty
    assert partial.last_price == ask1.price
    assert filled.last_qty == qty - ask1.qty
    assert filled.last_price == ask2.price
    assert filled.cum_qty == qty
    assert filled.leaves_qty == 0
    assert filled.venue_order_id == ack.venue_order_id
    assert filled.symbol == BTC
    assert filled.fee > 0
    assert filled.fee_asset == "USD"


async def test_duplicate_client_order_id_is_not_sent_twice(
    emu: KrakenEmulator, adapter: Any
) -> None:
    orders, reports = adapter
    bid = emu.books["BTC-USD"].top("bids", 1)[0]
    resting = bid.price - Decimal("100")
    await orders.submit(_order("tg-dup-1", Decimal("0.001"), resting))
    await reports.until(lambda: ExecState.ACK in reports.states("tg-dup-1"))
    sent = emu.rest.calls["AddOrder"]
    with pytest.raises(DuplicateOrderError, match="not sent twice"):
        await orders.submit(_order("tg-dup-1", Decimal("0.001"), resting))
    assert emu.rest.calls["AddOrder"] == sent
    # ... and the venue itself refuses a duplicate among open orders (another adapter).
    other = KrakenOrderAdapter(_settings(emu), clock=SystemClock())
    async with anyio.create_task_group() as tg:
        await tg.start(other.run, lambda r: None)
        with pytest.raises(VenueRejectedError, match="Duplicate"):
            await other.submit(_order("tg-dup-1", Decimal("0.001"), resting))
        tg.cancel_scope.cancel()


async def test_cancel_and_query(emu: KrakenEmulator, adapter: Any) -> None:
    orders, reports = adapter
    resting = emu.books["BTC-USD"].top("bids", 1)[0].price - Decimal("50")
    await orders.submit(_order("tg-cancel-1", Decimal("0.002"), resting))
    live = await orders.query(BTC, "tg-cancel-1")
    assert live is not None
    assert live.state is ExecState.ACK
    assert live.leaves_qty == Decimal("0.002")
    await orders.cancel(CancelRequest(client_order_id="tg-cancel-1", consumer_id="c1",
                                      provider="kraken", symbol=BTC))  # fmt: skip
    await reports.until(lambda: ExecState.CANCELLED in reports.states("tg-cancel-1"))
    gone = await orders.query(BTC, "tg-cancel-1")
    assert gone is not None
    assert gone.state is ExecState.CANCELLED
    assert await orders.query(BTC, "never-sent") is None
    with pytest.raises(VenueRejectedError, match="Unknown order"):
        await orders.cancel(CancelRequest(client_order_id="never-sent", consumer_id="c1",
                                          provider="kraken", symbol=BTC))  # fmt: skip


async def test_lost_answer_is_unknown_then_resolved_by_query(
    emu: KrakenEmulator, adapter: Any
) -> None:
    orders, _reports = adapter
    emu.faults.http(AcceptThenTimeout(), match=lambda req: req.path.endswith("/AddOrder"))
    resting = emu.books["BTC-USD"].top("bids", 1)[0].price - Decimal("10")
    with pytest.raises(OrderOutcomeUnknownError):
        await orders.submit(_order("tg-lost-1", Decimal("0.003"), resting))
    found = await orders.query(BTC, "tg-lost-1")
    assert found is not None
    assert found.state is ExecState.ACK
    with pytest.raises(DuplicateOrderError):  # and it is never resent
        await orders.submit(_order("tg-lost-1", Decimal("0.003"), resting))


async def test_venue_rejection_and_local_validation(emu: KrakenEmulator, adapter: Any) -> None:
    orders, _ = adapter
    with pytest.raises(VenueRejectedError, match="Insufficient funds"):
        await orders.submit(_order("tg-big-1", Decimal("1000000"), Decimal("1000")))
    with pytest.raises(OrderValidationError, match="cl_ord_id"):
        await orders.submit(
            _order("this-id-is-far-too-long-for-kraken", Decimal("1"), Decimal("1"))
        )
    fok = _order("tg-fok-1", Decimal("0.001"), Decimal("1000")).model_copy(
        update={"time_in_force": TimeInForce.FOK}
    )
    with pytest.raises(OrderValidationError, match="fill-or-kill"):
        await orders.submit(fok)
    with pytest.raises(OrderValidationError, match="no pair"):
        await orders.submit(
            OrderRequest(client_order_id="tg-x", consumer_id="c", provider="kraken",
                         symbol="DOGE-EUR", side=Side.BUY, qty=Decimal(1), price=Decimal(1))
        )  # fmt: skip


async def test_bad_signature_is_an_authentication_error(emu: KrakenEmulator) -> None:
    wrong = "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZQ=="
    adapter = KrakenOrderAdapter(_settings(emu, secret=wrong), clock=SystemClock())
    with pytest.raises(AuthenticationError, match="Invalid signature"):
        await adapter.run(lambda r: None, task_status=anyio.TASK_STATUS_IGNORED)
    assert emu.rest.rejected_signatures >= 1


def test_client_order_id_formats() -> None:
    assert validate_cl_ord_id("6d1b345e-2821-40e2-ad83-4ecb18a06876") is None
    assert validate_cl_ord_id("6d1b345e282140e2ad834ecb18a06876") is None
    assert validate_cl_ord_id("O-20260505-000001") is None  # 17 chars of free text
    assert validate_cl_ord_id("x" * 19) is not None
    assert validate_cl_ord_id("has space") is not None
    assert validate_cl_ord_id("") is not None


async def test_market_ioc_order_fills_at_once(emu: KrakenEmulator, adapter: Any) -> None:
    orders, reports = adapter
    ask = emu.books["BTC-USD"].top("asks", 1)[0]
    qty = min(ask.qty, Decimal("0.01"))
    await orders.submit(_order("tg-mkt-1", qty, None))
    await reports.until(lambda: ExecState.FILLED in reports.states("tg-mkt-1"))
    filled = [r for r in reports.items if r.client_order_id == "tg-mkt-1"][-1]
    assert filled.last_price == ask.price
    ioc = _order("tg-ioc-1", Decimal("0.001"), ask.price - Decimal("500")).model_copy(
        update={"time_in_force": TimeInForce.IOC}
    )
    await orders.submit(ioc)  # nothing to match at that price: expires at once
    await reports.until(lambda: ExecState.EXPIRED in reports.states("tg-ioc-1"))


async def test_missing_keys_are_a_config_error_so_trading_is_disabled_not_retried() -> None:
    adapter = KrakenOrderAdapter(KrakenSettings(), clock=SystemClock())
    with anyio.fail_after(2), pytest.raises(ConfigError, match=r"providers\.kraken\.api_key"):
        await adapter.run(lambda report: None, task_status=anyio.TASK_STATUS_IGNORED)
