"""Shared pieces of the order-path end-to-end tests: a recording consumer, a Coinbase
emulator over a static market, and the settings of a real Gateway pointed at it.

Nothing in the order path is faked: the Gateway is built from the Coinbase plugin found by
its entry point, its order adapter talks HTTP/WebSocket to the emulator on loopback, and the
journal is a real SQLite file under the test's ``tmp_path``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from tradegw_coinbase.emulator import CoinbaseEmulator

from tradegw_core.config.loader import LoadedConfig, load_config_mapping
from tradegw_core.gateway import Gateway
from tradegw_core.orders import OrderService
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import Event, ExecReport, ExecState, Side
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.sim.matching import ExecEvent, OrderState

PROVIDER = "coinbase"
SYMBOL = "BTC-USD"
WAIT_S = 4.0
"""Bound on every wait of these tests (each test must finish well within 5 s)."""


class RecordingConsumer:
    """A consumer that records what its lane hands it; tests wait on :meth:`until`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ctx: Any = None
        self.reports: list[ExecReport] = []
        self.events: list[Event] = []
        self.stopped = False
        self._changed = anyio.Event()

    async def on_start(self, ctx: Any) -> None:
        """Keep the context (the test submits through it)."""
        self.ctx = ctx

    async def on_event(self, event: Event) -> None:
        """Record market data."""
        self.events.append(event)
        self._poke()

    async def on_exec_report(self, report: ExecReport) -> None:
        """Record an execution report."""
        self.reports.append(report)
        self._poke()

    async def on_stop(self) -> None:
        """Note the stop."""
        self.stopped = True

    def _poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def states(self, client_order_id: str) -> list[ExecState]:
        """The states reported so far for one order, in arrival order."""
        return [r.state for r in self.reports if r.client_order_id == client_order_id]

    async def until(self, pred: Callable[[], bool]) -> None:
        """Wait until ``pred()`` holds (re-checked after every delivery), at most WAIT_S."""
        with anyio.fail_after(WAIT_S):
            while not pred():
                await self._changed.wait()


def static_market() -> MarketSimulator:
    """A market that never moves unless the test steps it (so nothing fills by chance)."""
    return MarketSimulator([default_symbol_spec(SYMBOL)], seed=11, rate=1.0)


@contextlib.asynccontextmanager
async def coinbase_emulator(ws_buffer: int = 10_000) -> AsyncIterator[CoinbaseEmulator]:
    """A Coinbase emulator on loopback over :func:`static_market`."""
    config = EmulatorConfig(
        venue=PROVIDER, symbols=(SYMBOL,), seed=11, simulator=static_market(), ws_buffer=ws_buffer
    )
    async with CoinbaseEmulator(config) as emu:
        yield emu


def gateway_config(
    emu: CoinbaseEmulator,
    journal: Path,
    consumers: Mapping[str, Any],
    *,
    orders: Mapping[str, Any] | None = None,
    dispatcher: Mapping[str, Any] | None = None,
    provider: Mapping[str, Any] | None = None,
    api: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Validated settings and registries of a Gateway on ``emu`` with these consumers."""
    regs = Registries()
    for name, consumer in consumers.items():
        regs.consumers.add(name, lambda settings, c=consumer: c, plugin_id="e2e-orders")
    creds = emu.credentials[0]
    data: dict[str, Any] = {
        "plugins": {"enabled": [PROVIDER]},
        "gateway": {
            "providers": [PROVIDER],
            "consumers": list(consumers),
            "required_providers": [PROVIDER],  # start-up waits for it: tests trade at once
        },
        "metrics": {"enabled": False},
        "orders": {"journal_path": str(journal), "risk_checks": [], **(orders or {})},
        "providers": {
            PROVIDER: {
                "ws_market_url": emu.ws_url,
                "ws_user_url": emu.ws_url,
                "rest_url": emu.rest_url,
                "api_key_name": creds.api_key,
                "api_private_key": creds.api_secret,
                "symbols": [SYMBOL],
                **(provider or {}),
            }
        },
    }
    if dispatcher is not None:
        data["dispatcher"] = dict(dispatcher)
    if api is not None:
        data["api"] = dict(api)
    return load_config_mapping(data, registries=regs)


def resting_buy(emu: CoinbaseEmulator, consumer: str, coid: str, *, ticks: int) -> OrderRequest:
    """A limit buy ``ticks`` ticks from the best bid (``1``: the new best bid, inside the
    spread); it rests: the market does not move unless the test steps it."""
    spec = emu.sim.specs[SYMBOL]
    best_bid = emu.sim.book(PROVIDER, SYMBOL, depth=1).bids[0][0]
    return OrderRequest(
        client_order_id=coid,
        consumer_id=consumer,
        provider=PROVIDER,
        symbol=SYMBOL,
        side=Side.BUY,
        qty=Decimal("0.01"),
        price=best_bid + spec.tick * ticks,
    )


class VenuePlacements:
    """Counts the orders the venue's matching engine accepted, per client order id.

    It listens to the engine itself (below the emulator's HTTP layer), so it sees every
    order placed on the venue however it got there.
    """

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.placed: dict[str, int] = {}
        self._unsubscribe = emu.engines[SYMBOL].subscribe(self._on_exec)

    def _on_exec(self, event: ExecEvent) -> None:
        if event.state is OrderState.NEW:
            self.placed[event.client_order_id] = self.placed.get(event.client_order_id, 0) + 1

    def close(self) -> None:
        """Stop listening."""
        self._unsubscribe()


def order_service(gw: Gateway) -> OrderService:
    """The order service the gateway built from the registered order adapters."""
    service = gw.orders.service
    assert isinstance(service, OrderService)
    return service
