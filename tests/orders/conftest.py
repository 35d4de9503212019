"""Fixtures of the order-path tests: an in-memory fake venue and a service factory.

``FakeVenue`` is an ``OrderAdapter`` over a dict of orders, with switchable submit faults
(reject, apply-then-lose-the-answer, lose-before-applying, hang) and call counters, so a
test can prove what reached the venue. No network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.clock import FakeClock
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import OrderOutcomeUnknownError, VenueRejectedError
from tradegw_core.orders import OrderPathSettings, OrderService
from tradegw_core.schema.events import EventType, ExecReport, ExecState, make_event_id
from tradegw_core.schema.orders import CancelRequest, OrderRequest
from tradegw_core.schema.symbols import Instrument, Symbol

PROVIDER = "fakex"
_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"


@dataclass
class VenueOrder:
    """One order as the fake venue holds it."""

    req: OrderRequest
    venue_order_id: str
    state: ExecState = ExecState.ACK
    cum_qty: Decimal = Decimal(0)
    seq: int = 0


class FakeVenue:
    """An in-memory venue that is also its own OrderAdapter."""

    def __init__(self, provider: str = PROVIDER) -> None:
        self.provider = provider
        self.orders: dict[str, VenueOrder] = {}
        self.submit_calls = 0
        self.cancel_calls = 0
        self.query_calls = 0
        self.submit_mode = "ok"
        self.cancel_mode = "ok"
        self.query_fails = 0
        self.on_submit: Callable[[OrderRequest], None] | None = None
        self._next_id = 1000
        self._instruments = {
            Symbol("BTC-USDT"): Instrument(
                provider=provider,
                symbol=Symbol("BTC-USDT"),
                venue_symbol="BTCUSDT",
                base="BTC",
                quote="USDT",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.0001"),
                min_qty=Decimal("0.0001"),
                max_qty=Decimal("100"),
                min_notional=Decimal("5"),
            ),
            Symbol("ETH-USDT"): Instrument(
                provider=provider,
                symbol=Symbol("ETH-USDT"),
                venue_symbol="ETHUSDT",
                base="ETH",
                quote="USDT",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.001"),
            ),
        }

    # -- OrderAdapter -------------------------------------------------------------------

    async def run(
        self, emit: Callable[[ExecReport], None], *, task_status: TaskStatus[None]
    ) -> None:
        task_status.started()
        await anyio.sleep_forever()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        return self._instruments

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        if _CID.match(client_order_id):
            return None
        return "use 1-36 characters from A-Z, a-z, 0-9, '_' and '-'"

    async def submit(self, order: OrderRequest) -> SubmitAck:
        self.submit_calls += 1
        if self.on_submit is not None:
            self.on_submit(order)
        mode = self.submit_mode
        if mode == "reject":
            raise VenueRejectedError("Account has insufficient balance", venue="x", code=-2010)
        if mode == "lost_before":
            raise OrderOutcomeUnknownError("connection dropped before sending", venue="x")
        placed = self._place(order)
        if mode == "lost_after":
            raise OrderOutcomeUnknownError("connection dropped after sending", venue="x")
        if mode == "hang":
            await anyio.sleep_forever()
        if mode == "filled_now":  # e.g. a market order: the answer carries the fill
            report = self.fill(order.client_order_id, str(order.qty))
            report.provider = ""  # some adapters leave it to the core
            return SubmitAck(
                client_order_id=order.client_order_id, venue_order_id=placed, report=report
            )
        return SubmitAck(client_order_id=order.client_order_id, venue_order_id=placed)

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        self.cancel_calls += 1
        if self.cancel_mode == "reject":
            raise VenueRejectedError("Unknown order sent.", venue="x", code=-2011)
        if self.cancel_mode == "lost":
            raise OrderOutcomeUnknownError("cancel answer lost", venue="x")
        vo = self.orders[request.client_order_id]
        vo.state = ExecState.CANCELLED
        return self.report(request.client_order_id)

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        self.query_calls += 1
        if self.query_fails > 0:
            self.query_fails -= 1
            raise OrderOutcomeUnknownError("query timed out", venue="x")
        if client_order_id not in self.orders:
            return None
        return self.report(client_order_id)

    # -- what a test drives -------------------------------------------------------------

    def _place(self, order: OrderRequest) -> str:
        self._next_id += 1
        vid = str(self._next_id)
        self.orders[order.client_order_id] = VenueOrder(order, vid)
        return vid

    def fill(self, client_order_id: str, qty: str) -> ExecReport:
        """Fill ``qty`` more of an order and return the venue's report of it."""
        vo = self.orders[client_order_id]
        vo.cum_qty += Decimal(qty)
        vo.state = ExecState.FILLED if vo.cum_qty >= vo.req.qty else ExecState.PARTIAL
        return self.report(client_order_id, last_qty=Decimal(qty))

    def report(self, client_order_id: str, last_qty: Decimal = Decimal(0)) -> ExecReport:
        vo = self.orders[client_order_id]
        vo.seq += 1
        return ExecReport(
            event_id=make_event_id(
                self.provider,
                str(vo.req.symbol),
                EventType.EXEC_REPORT,
                f"{client_order_id}:{vo.seq}",
            ),
            provider=self.provider,
            symbol=vo.req.symbol,
            venue_symbol=vo.req.symbol.replace("-", ""),
            client_order_id=client_order_id,
            venue_order_id=vo.venue_order_id,
            state=vo.state,
            side=vo.req.side,
            order_qty=vo.req.qty,
            price=vo.req.price,
            last_qty=last_qty,
            last_price=vo.req.price if last_qty else None,
            cum_qty=vo.cum_qty,
            leaves_qty=vo.req.qty - vo.cum_qty if not vo.state.is_final else Decimal(0),
            venue_status=str(vo.state).lower(),
        )


class Sink:
    """The consumer side: records (consumer_id, report) and lets a test await a count."""

    def __init__(self) -> None:
        self.items: list[tuple[str, ExecReport]] = []
        self._waiters: list[tuple[int, anyio.Event]] = []

    def __call__(self, consumer_id: str, report: ExecReport) -> None:
        self.items.append((consumer_id, report))
        for n, ev in self._waiters:
            if len(self.items) >= n:
                ev.set()

    async def wait_for(self, n: int) -> None:
        """Wait until ``n`` reports arrived in total."""
        if len(self.items) >= n:
            return
        ev = anyio.Event()
        self._waiters.append((n, ev))
        with anyio.fail_after(5):
            await ev.wait()

    def states(self, client_order_id: str) -> list[ExecState]:
        return [r.state for _, r in self.items if r.client_order_id == client_order_id]


class Telemetry:
    """Records telemetry events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._waiters: dict[str, anyio.Event] = {}

    def emit(self, name: str, /, **labels: Any) -> None:
        self.events.append((name, labels))
        if name in self._waiters:
            self._waiters.pop(name).set()

    async def wait_for(self, name: str) -> None:
        """Wait until an event called ``name`` was emitted."""
        if not self.named(name):
            ev = self._waiters.setdefault(name, anyio.Event())
            with anyio.fail_after(5):
                await ev.wait()

    def named(self, name: str) -> list[dict[str, Any]]:
        return [labels for n, labels in self.events if n == name]


@dataclass
class Harness:
    """What a test needs to build services that share one journal file."""

    path: Path
    venue: FakeVenue = field(default_factory=FakeVenue)
    sink: Sink = field(default_factory=Sink)
    telemetry: Telemetry = field(default_factory=Telemetry)
    clock: FakeClock = field(default_factory=FakeClock)
    prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def service(self, **overrides: Any) -> OrderService:
        values: dict[str, Any] = {
            "journal_path": self.path,
            "query_backoff_s": 0.001,
            "query_backoff_max_s": 0.004,
            "submit_timeout_s": 2.0,
            "max_notional": Decimal(100_000),
        }
        values.update(overrides)
        registry = values.pop("risk_registry", None)
        tracer = values.pop("tracer", None)
        return OrderService(
            adapters={self.venue.provider: self.venue},
            deliver=self.sink,
            settings=OrderPathSettings.from_settings(None, **values),
            last_trade_price=lambda p, s: self.prices.get((p, s)),
            risk_registry=registry,
            clock=self.clock,
            telemetry=self.telemetry,
            tracer=tracer,
        )


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    """A fake venue, a consumer sink, telemetry, a fake clock and a journal path."""
    return Harness(tmp_path / "journal" / "orders.sqlite")


def order(cid: str = "c1", **kw: Any) -> OrderRequest:
    """A valid limit order of consumer ``alpha`` (override any field)."""
    fields: dict[str, Any] = {
        "client_order_id": cid,
        "consumer_id": "alpha",
        "provider": PROVIDER,
        "symbol": "BTC-USDT",
        "side": "buy",
        "qty": Decimal("0.01"),
        "price": Decimal("30000.00"),
    }
    fields.update(kw)
    return OrderRequest(**fields)


@pytest.fixture
def make_order() -> Callable[..., OrderRequest]:
    """The :func:`order` builder."""
    return order
