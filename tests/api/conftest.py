"""A real Gateway with the HTTP control API on an ephemeral loopback port.

Local stand-ins (no network): ``StubVenue`` is both the market-data Provider and the
OrderAdapter of provider ``stub``, so the gateway builds its real order path (journal in
``tmp_path``, trading switch) around it; ``RecordingConsumer`` ``mm`` gives the test a
consumer context to submit orders with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import TaskStatus

from tradegw_core.config.models import ApiSettings, GatewaySettings, OrdersSettings, Settings
from tradegw_core.contracts import StreamSpec
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import EventType, ExecReport
from tradegw_core.schema.orders import CancelRequest, OrderRequest
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.testing.recorders import RecordingConsumer

TOKEN = "s3cret-api-token-for-tests"
PROVIDER = "stub"


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"


class StubVenue:
    """An in-memory venue: market-data provider and order adapter in one object."""

    def __init__(self, _ctx: Any = None) -> None:
        self.subscribed: list[list[StreamSpec]] = []
        self.submitted: list[OrderRequest] = []
        self._instruments = {
            Symbol("BTC-USDT"): Instrument(
                provider=PROVIDER,
                symbol=Symbol("BTC-USDT"),
                venue_symbol="BTCUSDT",
                base="BTC",
                quote="USDT",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.001"),
            )
        }

    async def run(self, *args: Any, task_status: TaskStatus[None]) -> None:
        """Provider.run() and OrderAdapter.run(emit): start at once, run until cancelled."""
        task_status.started()
        await anyio.sleep_forever()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """One pair."""
        return self._instruments

    def supported_types(self) -> frozenset[EventType]:
        """Trades only."""
        return frozenset({EventType.TRADE})

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Record the venue subscribe."""
        self.subscribed.append(list(streams))

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Nothing to undo."""

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        """Every id is fine."""
        return None

    async def submit(self, order: OrderRequest) -> SubmitAck:
        """Accept the order."""
        self.submitted.append(order)
        return SubmitAck(client_order_id=order.client_order_id, venue_order_id="v1")

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        """No report."""
        return None

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        """The venue never heard of it."""
        return None


@dataclass
class Running:
    """What a test gets: the gateway, an HTTP client on its API, the venue and consumer."""

    gw: Gateway
    http: httpx.AsyncClient
    venue: StubVenue
    mm: RecordingConsumer

    @property
    def auth(self) -> dict[str, str]:
        """The good Authorization header."""
        return {"Authorization": f"Bearer {TOKEN}"}


def build(tmp_path: Path, venue: StubVenue, mm: RecordingConsumer) -> tuple[Settings, Registries]:
    """Settings with the API on port 0, and registries holding the stand-ins."""
    regs = Registries()
    regs.providers.add(PROVIDER, lambda ctx: venue, plugin_id="test")
    regs.order_adapters.add(PROVIDER, lambda ctx: venue, plugin_id="test")
    regs.consumers.add("mm", lambda settings: mm, plugin_id="test")
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(providers=(PROVIDER,), consumers=("mm",)),
        orders=OrdersSettings(journal_path=str(tmp_path / "journal.sqlite3")),
        api=ApiSettings(enabled=True, host="127.0.0.1", port=0, token=TOKEN),
    )
    return settings, regs


@pytest.fixture
def running(tmp_path: Path) -> Callable[[], Any]:
    """``async with running() as r``: a started gateway and a client on its API."""

    @asynccontextmanager
    async def start() -> AsyncIterator[Running]:
        venue, mm = StubVenue(), RecordingConsumer()
        settings, regs = build(tmp_path, venue, mm)
        with anyio.fail_after(10):
            async with Gateway(settings, regs) as gw:
                assert gw.api_url is not None
                async with httpx.AsyncClient(base_url=gw.api_url, timeout=5) as http:
                    yield Running(gw, http, venue, mm)

    return start
