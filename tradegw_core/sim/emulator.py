"""The venue emulator base: loopback WebSocket + HTTP servers around the shared market.

A venue plugin subclasses :class:`Emulator` and supplies only its wire format and rules:
``http_routes()`` and the ``on_*`` hooks. The base owns the servers (``websockets``
asyncio server; uvicorn serving a small ASGI router, see :mod:`tradegw_core.sim.http`),
the per-connection outbox and fault injection (:mod:`tradegw_core.sim.faults`), the
connection lifetime limit, the market simulator subscription, one
:class:`~tradegw_core.sim.matching.MatchingEngine` per symbol and the account ledger.

Example (a tiny venue; a real one encodes its own frames and checks signatures)::

    class EchoEmulator(Emulator):
        ws_path = "/ws"

        def http_routes(self) -> list[Route]:
            return [Route("GET", "/depth/{symbol}", self.depth)]

        async def depth(self, request: HttpRequest) -> HttpResponse:
            book = self.sim.book(self.venue, request.path_params["symbol"], depth=5)
            return HttpResponse.json({"seq": book.seq, "bids": book.bids, "asks": book.asks})

        async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
            conn.subscriptions.add(str(message))          # e.g. "BTC-USDT"

        def on_market_event(self, event: MarketEvent) -> None:
            for conn in self.connections.values():
                if event.symbol in conn.subscriptions:
                    conn.send_nowait(json.dumps({"symbol": event.symbol, "seq": ...}))

        def on_exec_event(self, event: ExecEvent) -> None:
            ...  # push to the connections logged in as event.account

    async with EchoEmulator(EmulatorConfig(venue="echo", seed=1)) as emu:
        print(emu.rest_url, emu.ws_url)      # http://127.0.0.1:PORT ws://127.0.0.1:PORT/ws
        emu.faults.ws(Drop(), count=1)       # script faults while it runs
        events = emu.engines["BTC-USDT"].place("main", "c1", Side.BUY, Decimal("0.1"),
                                               Decimal("59000"))

Or inside a task group: ``emu = await tg.start(EchoEmulator(config).serve)``. A plugin
registers the class itself as the factory:
``registry.add("echo", EchoEmulator, plugin_id=plugin_id)`` (see :data:`EmulatorFactory`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import anyio
from anyio.abc import TaskGroup
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.sim.connection import WsConnection
from tradegw_core.sim.control import control_routes
from tradegw_core.sim.faults import FaultPlan
from tradegw_core.sim.http import HttpRequest, HttpResponse, Route, RouterApp, serve_asgi
from tradegw_core.sim.market import (
    MarketEvent,
    MarketSimulator,
    SimTrade,
    VenueProfile,
    default_symbol_spec,
)
from tradegw_core.sim.matching import ExecEvent, Ledger, MatchingEngine
from tradegw_core.sim.state import load_state, save_state
from tradegw_core.sim.tape import Tape

__all__ = [
    "DEFAULT_SYMBOLS",
    "ApiCredentials",
    "Emulator",
    "EmulatorConfig",
    "EmulatorFactory",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "WsConnection",
]

log = logging.getLogger(__name__)

DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC-USDT", "ETH-USDT")


@dataclass(frozen=True)
class ApiCredentials:
    """A test API key of an emulated account (the secret's format is the venue's)."""

    api_key: str
    api_secret: str
    account: str = "main"


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Everything an emulator factory gets.

    ``simulator`` is shared by every emulator of one run (the CLI and the demo pass one);
    when None the emulator builds its own from ``symbols``/``seed``/``rate`` and drives
    it. ``credentials`` empty means the venue's :meth:`Emulator.default_credentials`.
    ``balances`` is what every account starts with (default: per symbol, 1,000,000 of the
    quote asset and about as much worth of the base). ``connection_lifetime_s`` overrides
    the venue's own limit (``Emulator.connection_lifetime_s``, e.g. 24 h compressed to
    seconds in tests). ``state_dir`` keeps orders, balances and fills across restarts
    (:mod:`tradegw_core.sim.state`). ``options`` carries venue knobs.
    """

    venue: str
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    seed: int = 0
    rate: float = 5.0
    host: str = "127.0.0.1"
    rest_port: int = 0
    ws_port: int = 0
    credentials: tuple[ApiCredentials, ...] = ()
    balances: Mapping[str, Decimal] | None = None
    simulator: MarketSimulator | None = None
    clock: Clock | None = None
    faults: FaultPlan | None = None
    connection_lifetime_s: float | None = None
    ws_buffer: int = 10_000
    state_dir: Path | None = None
    state_interval_s: float = 0.5
    options: Mapping[str, Any] = field(default_factory=dict)


class _Ids:
    """The venue-wide order id counter; :meth:`advance` skips ids a restored state used."""

    def __init__(self) -> None:
        self.last = 0

    def __iter__(self) -> _Ids:
        return self

    def __next__(self) -> int:
        self.last += 1
        return self.last


class Emulator:
    """Base of every venue emulator; subclass and override the hooks you need.

    Attributes ready after ``__init__``: ``config``, ``venue``, ``clock``, ``sim``,
    ``ledger``, ``engines`` (symbol -> MatchingEngine), ``faults``, ``credentials``,
    ``connections`` (id -> WsConnection, live ones), ``tape`` (recent public trades,
    candles, running stats) and ``fills`` (the latest 10,000 user fills, oldest first).
    After start: ``rest_url``, ``ws_url``.
    """

    ws_path: ClassVar[str] = "/"
    connection_lifetime_s: ClassVar[float | None] = None
    ws_ping_interval: ClassVar[float | None] = 20.0
    ws_ping_timeout: ClassVar[float | None] = 60.0
    secret_settings: ClassVar[tuple[str, ...]] = ()
    """Provider settings ``--print-settings`` writes to the secrets file besides SecretStrs."""
    maker_fee: ClassVar[Decimal] = Decimal("0.001")
    taker_fee: ClassVar[Decimal] = Decimal("0.001")

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.venue = config.venue
        self.clock: Clock = config.clock or SystemClock()
        self.faults = config.faults if config.faults is not None else FaultPlan()
        self._owns_sim = config.simulator is None
        self.sim = config.simulator or MarketSimulator(
            [default_symbol_spec(s) for s in config.symbols],
            seed=config.seed,
            rate=config.rate,
            clock=self.clock,
        )
        self.sim.add_venue(self.venue_profile())
        self.symbols = [s for s in config.symbols if s in self.sim.specs] or list(self.sim.specs)
        self.ledger = Ledger()
        self.credentials = config.credentials or self.default_credentials()
        balances = self.initial_balances()
        for account in sorted({c.account for c in self.credentials}):
            for asset, amount in balances.items():
                self.ledger.deposit(account, asset, amount)
        self._order_ids = order_ids = _Ids()
        self.tape = Tape()
        # overflow policy ``evict_oldest``: the venues' fill history endpoints page back
        # over a bounded window too
        self.fills: deque[ExecEvent] = deque(maxlen=10_000)
        self._dirty = False
        self.engines: dict[str, MatchingEngine] = {}
        for symbol in self.symbols:
            engine = MatchingEngine(
                self.venue,
                self.sim.specs[symbol],
                self.ledger,
                sim=self.sim,
                clock=self.clock,
                faults=self.faults,
                order_ids=order_ids,
                maker_fee=self.maker_fee,
                taker_fee=self.taker_fee,
            )
            engine.subscribe(self._exec_event)
            self.engines[symbol] = engine
        self.connections: dict[int, WsConnection] = {}
        self._conn_ids = itertools.count(1)
        self._ports: tuple[int, int] | None = None
        self._tg: TaskGroup | None = None
        self._outer: TaskGroup | None = None

    # ------------------------------------------------------------------ venue hooks
    def venue_profile(self) -> VenueProfile:
        """How this venue's books look around the shared mid (spread, noise, depth...)."""
        return VenueProfile(self.venue)

    def default_credentials(self) -> tuple[ApiCredentials, ...]:
        """Test credentials when the config gives none (deterministic from the seed)."""
        digest = hashlib.sha256(f"{self.config.seed}:{self.venue}".encode()).hexdigest()
        return (ApiCredentials(f"{self.venue}-test-key", digest),)

    def initial_balances(self) -> dict[str, Decimal]:
        """What each account starts with."""
        if self.config.balances is not None:
            return dict(self.config.balances)
        out: dict[str, Decimal] = {}
        for symbol in self.symbols:
            spec = self.sim.specs[symbol]
            out[spec.quote] = Decimal(1_000_000)
            out[spec.base] = (Decimal(1_000_000) / spec.price).quantize(spec.lot)
        return out

    def http_routes(self) -> Sequence[Route]:
        """The venue's REST endpoints."""
        return []

    async def on_ws_connect(self, conn: WsConnection) -> None:
        """A client connected (``conn.path``, ``conn.query``, ``conn.headers`` are set)."""

    async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
        """A frame arrived from the client."""

    async def on_ws_disconnect(self, conn: WsConnection) -> None:
        """The connection ended (for any reason); runs shielded."""

    async def on_ws_lifetime_end(self, conn: WsConnection) -> None:
        """The lifetime limit is reached; send a notice if the venue does (then it closes)."""

    def on_market_event(self, event: MarketEvent) -> None:
        """A book delta or trade of this venue (sync: use ``conn.send_nowait``)."""

    def on_exec_event(self, event: ExecEvent) -> None:
        """An order of this venue changed state (sync: use ``conn.send_nowait``)."""

    def corrupt_frame(self, conn: WsConnection, frame: str | bytes) -> str | bytes:
        """What :class:`~tradegw_core.sim.faults.Corrupt` sends; venues break their checksum.

        The default truncates the frame by one character/byte.
        """
        return frame[:-1]

    async def background(self) -> None:
        """Run venue timers here (heartbeats...); cancelled when the emulator stops."""

    def unknown_route(self, request: HttpRequest) -> HttpResponse | None:
        """The venue's answer to a path or method it does not serve (None: generic 404/405)."""
        return None

    def extra_state(self) -> dict[str, Any]:
        """Venue state kept by ``--state-dir`` besides orders, balances and fills."""
        return {}

    def restore_extra(self, data: Mapping[str, Any]) -> None:
        """Take back what :meth:`extra_state` gave, after a restart."""

    def advance_order_ids(self, last: int) -> None:
        """Make new order ids follow ``last`` (used when restoring a state)."""
        self._order_ids.last = max(self._order_ids.last, last)

    def mark_dirty(self) -> None:
        """Say the account state changed (``--state-dir`` writes it soon)."""
        self._dirty = True

    def client_settings(self, **overrides: Any) -> Any:
        """The venue plugin's provider settings pointing a client at this running emulator.

        Returns the plugin's settings model (or a mapping of its fields) with this
        emulator's URLs and first test credentials, ``overrides`` applied on top. The demo
        and tests use it, so the core never needs to know a venue's field names.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement client_settings(): a venue emulator "
            "must say how its provider connects to it"
        )

    # ------------------------------------------------------------------ helpers
    @property
    def rest_url(self) -> str:
        """``http://HOST:PORT`` of the running HTTP server."""
        return f"http://{self.config.host}:{self._require_ports()[0]}"

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT`` + ``ws_path`` of the running WebSocket server."""
        return f"ws://{self.config.host}:{self._require_ports()[1]}{self.ws_path}"

    def endpoints(self) -> dict[str, str]:
        """The URLs ``tradegw emulate`` prints, name -> URL (``rest`` and ``ws`` first).

        ``ws`` is the market-data URL a client connects to; venues override this to point
        it at their stream path and to add further endpoints (e.g. a separate user stream).
        """
        return {"rest": self.rest_url, "ws": self.ws_url}

    def account_for_key(self, api_key: str) -> ApiCredentials | None:
        """The credentials holding ``api_key``, or None."""
        return next((c for c in self.credentials if c.api_key == api_key), None)

    def broadcast(self, frame: str | bytes, where: Callable[[WsConnection], bool] | None) -> int:
        """``send_nowait`` to every live connection ``where`` accepts; returns how many."""
        sent = 0
        for conn in list(self.connections.values()):
            if (where is None or where(conn)) and conn.send_nowait(frame):
                sent += 1
        return sent

    def _require_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise RuntimeError(f"emulator {self.venue!r} is not running")
        return self._ports

    # ------------------------------------------------------------------ lifecycle
    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[Self] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run both servers until cancelled; ``task_status.started(self)`` once listening."""
        cfg = self.config
        if cfg.state_dir is not None:
            load_state(self, cfg.state_dir)
        app = RouterApp(
            [*self.http_routes(), *control_routes(self)], self.faults, self.unknown_route
        )
        unsubscribe = self.sim.subscribe(self._market_event, venue=self.venue)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                rest_port = await tg.start(serve_asgi, app, cfg.host, cfg.rest_port)
                server = await serve(
                    self._handle,
                    cfg.host,
                    cfg.ws_port,
                    ping_interval=self.ws_ping_interval,
                    ping_timeout=self.ws_ping_timeout,
                )
                try:
                    ws_port = next(iter(server.sockets)).getsockname()[1]
                    self._ports = (rest_port, ws_port)
                    if self._owns_sim:
                        tg.start_soon(self.sim.run)
                    tg.start_soon(self.background)
                    if cfg.state_dir is not None:
                        tg.start_soon(self._keep_state, cfg.state_dir)
                    task_status.started(self)
                    await anyio.sleep_forever()
                finally:
                    with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                        server.close()
                        await server.wait_closed()
        finally:
            unsubscribe()
            self._ports = None
            self._tg = None
            if cfg.state_dir is not None:
                save_state(self, cfg.state_dir)

    async def __aenter__(self) -> Self:
        self._outer = anyio.create_task_group()
        await self._outer.__aenter__()
        try:
            await self._outer.start(self.serve)
        except BaseException as exc:
            await self._outer.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._outer is not None
        self._outer.cancel_scope.cancel()
        outer, self._outer = self._outer, None
        return await outer.__aexit__(exc_type, exc, tb)

    # ------------------------------------------------------------------ internals
    async def _keep_state(self, directory: Path) -> None:
        """Write the state at most every ``state_interval_s`` while it changes."""
        while True:
            await anyio.sleep(self.config.state_interval_s)
            if self._dirty:
                self._dirty = False
                try:
                    save_state(self, directory)
                except OSError:
                    log.exception("%s emulator: cannot write its state to %s", self.venue,
                                  directory)  # fmt: skip

    def _market_event(self, event: MarketEvent) -> None:
        if isinstance(event, SimTrade):
            self.tape.add(event)
        try:
            self.on_market_event(event)
        except Exception:
            log.exception("%s emulator: on_market_event failed", self.venue)

    def _exec_event(self, event: ExecEvent) -> None:
        self._dirty = True
        if event.last_qty > 0:
            self.fills.append(event)
        try:
            self.on_exec_event(event)
        except Exception:
            log.exception("%s emulator: on_exec_event failed", self.venue)

    async def _handle(self, ws: ServerConnection) -> None:
        """One connection (runs in the websockets server's handler task)."""
        async with anyio.create_task_group() as tg:
            conn = WsConnection(
                next(self._conn_ids),
                ws,
                emulator_faults=self.faults,
                corrupt=self.corrupt_frame,
                task_group=tg,
                opened_ns=self.clock.monotonic_ns(),
                buffer=self.config.ws_buffer,
            )
            self.connections[conn.id] = conn
            tg.start_soon(conn._writer)
            lifetime = self.config.connection_lifetime_s or self.connection_lifetime_s
            if lifetime is not None:
                tg.start_soon(self._lifetime, conn, lifetime)
            try:
                await self.on_ws_connect(conn)
                async for message in ws:
                    conn.frames_received += 1
                    await self.on_ws_message(conn, message)
            except ConnectionClosed:
                pass
            except Exception:
                log.exception("%s emulator: connection %s handler failed", self.venue, conn.id)
                await conn.abort(1011, "emulator error")
            finally:
                self.connections.pop(conn.id, None)
                conn._dispose()
                with anyio.CancelScope(shield=True):
                    await self.on_ws_disconnect(conn)
                tg.cancel_scope.cancel()

    async def _lifetime(self, conn: WsConnection, seconds: float) -> None:
        await anyio.sleep(seconds)
        await self.on_ws_lifetime_end(conn)
        await conn.close(1000, "connection lifetime reached")


EmulatorFactory = Callable[[EmulatorConfig], Emulator]
"""What ``tradegw_register_emulators`` adds under a venue name (usually the class itself)."""
