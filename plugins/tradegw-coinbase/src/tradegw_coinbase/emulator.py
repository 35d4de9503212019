"""A loopback Coinbase Advanced Trade venue on the core's emulator kit.

Same wire surface as the venue (protocol notes section 7 checklist):

* WebSocket (one server serves both the market and the user endpoint): a ``subscribe``
  must come within ``subscribe_timeout_s`` (5 s) or the socket is closed; one channel per
  message; every (un)subscribe is answered by a ``subscriptions`` frame listing all
  current subscriptions; bad requests get ``{"type": "error", "message": ...}``; ``user``
  needs a valid JWT ("authentication failure" otherwise, as for an unknown channel).
  More than ``messages_per_second`` (8, protocol notes section 1.5) client messages per
  second closes the socket (1008; counted in ``rate_limited``).
* One ``sequence_num`` counter per connection over every frame. Faults: the kit's
  :class:`~tradegw_core.sim.faults.FaultPlan` (a dropped frame leaves a gap) and
  :meth:`CoinbaseEmulator.skip_sequence` (the next frame skips numbers).
* ``level2`` -> ``l2_data``: a snapshot per product on each subscribe, then updates with
  absolute sizes; ``market_trades`` (maker side on the wire), ``ticker`` on every trade,
  ``candles`` (5 minutes, updated on each trade), ``heartbeats`` every second, ``user``
  (snapshot of open orders, at most 50 per message, then cumulative updates).
* REST under ``/api/v3/brokerage``: public ``market/products``, ``market/product_book``,
  ``time``; JWT-signed orders (see :mod:`tradegw_coinbase.emulator_orders`). Every JWT is
  verified (:mod:`tradegw_coinbase.emulator_auth`); a bad or expired one gets the venue's
  HTTP 401 ``Unauthorized``.

Credentials: :class:`~tradegw_core.sim.emulator.ApiCredentials` whose ``api_key`` is the
CDP key name and ``api_secret`` the private key PEM; the default key is derived from the
seed, so tests and the demo know it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import msgspec

from tradegw_coinbase.emulator_auth import CdpAuth, seeded_cdp_credentials
from tradegw_coinbase.emulator_market import CoinbaseMarketApi
from tradegw_coinbase.emulator_orders import OrderDesk
from tradegw_coinbase.emulator_wire import (
    CandleBuilder,
    encode_frame,
    format_time,
    l2_changes,
    l2_event,
    ticker_json,
    trade_json,
    user_order_json,
)
from tradegw_core.net.ratelimit import TokenBucket
from tradegw_core.sim.connection import WsConnection
from tradegw_core.sim.emulator import ApiCredentials, Emulator, HttpRequest, HttpResponse, Route
from tradegw_core.sim.market import BookDelta, MarketEvent, SimTrade, VenueProfile
from tradegw_core.sim.matching import ExecEvent

__all__ = ["PREFIX", "CoinbaseEmulator"]

PREFIX = "/api/v3/brokerage"
_PUBLIC_CHANNELS = ("level2", "market_trades", "ticker", "ticker_batch", "candles", "status")
_CHANNELS = (*_PUBLIC_CHANNELS, "heartbeats", "user")


_TRADES_SNAPSHOT = 50
"""Recent trades per product in a ``market_trades`` snapshot."""

_RATE_SLACK_S = 0.05
"""How early a message may come before the rate allows it (loopback timing jitter)."""


def _loop_ns() -> int:
    return int(anyio.current_time() * 1_000_000_000)


def _rest_levels(levels: Sequence[tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
    return [{"price": str(p), "size": str(q)} for p, q in levels]


@dataclass
class _ConnState:
    """Per-connection venue state."""

    seq: int = -1
    subs: dict[str, set[str]] = field(default_factory=dict)
    account: str | None = None
    subscribed: bool = False
    inbound: TokenBucket | None = None


class CoinbaseEmulator(Emulator):
    """Coinbase Advanced Trade over loopback (see the module docstring)."""

    secret_settings = ("api_key_name",)
    ws_path = "/"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        opts = config.options
        self.subscribe_timeout_s = float(opts.get("subscribe_timeout_s", 5.0))
        self.messages_per_second = float(opts.get("messages_per_second", 8.0))
        self.rate_limited = 0
        """Connections closed for sending faster than ``messages_per_second``."""
        self.heartbeat_interval_s = float(opts.get("heartbeat_interval_s", 1.0))
        self.desk = OrderDesk(self.engines)
        self.market = CoinbaseMarketApi(self)
        self.candles = CandleBuilder()
        self.volume: dict[str, Decimal] = {}
        self.auth = CdpAuth(self.credentials, self.clock, f"{config.host}")
        self._skip = 0
        self._heartbeats = 0

    @property
    def auth_failures(self) -> int:
        """JWTs refused so far (REST and WebSocket)."""
        return self.auth.failures

    def client_settings(self, **overrides: Any) -> Any:
        """``CoinbaseSettings`` pointing at this emulator with its first test CDP key."""
        from tradegw_coinbase.config import CoinbaseSettings

        cred = self.credentials[0]
        base: dict[str, Any] = {
            "ws_market_url": self.ws_url,
            "ws_user_url": self.ws_url,
            "rest_url": self.rest_url,
            "api_key_name": cred.api_key,
            "api_private_key": cred.api_secret,
            "symbols": list(self.symbols),
        }
        base.update(overrides)
        return CoinbaseSettings(**base)

    # ------------------------------------------------------------------ set-up
    def venue_profile(self) -> VenueProfile:
        """1000 levels a side (``product_book`` up to limit 1000 is full), resized near
        the top like a real book."""
        return VenueProfile(self.venue, depth=1000, jitter_ticks=20)

    def default_credentials(self) -> tuple[ApiCredentials, ...]:
        """One EC P-256 CDP key derived from the seed (deterministic)."""
        return seeded_cdp_credentials(self.config.seed, self.venue)

    def extra_state(self) -> dict[str, Any]:
        """The order desk (client ids, stored create answers, fill counts)."""
        return self.desk.dump()

    def restore_extra(self, data: Mapping[str, Any]) -> None:
        """Take the order desk back after a restart."""
        if data:
            self.desk.load(data)

    def skip_sequence(self, n: int = 1) -> None:
        """Fault: the next frame sent (on any connection) skips ``n`` sequence numbers."""
        self._skip += n

    # ------------------------------------------------------------------ REST
    def http_routes(self) -> Sequence[Route]:
        """The venue's REST endpoints."""
        p = PREFIX
        return [
            Route("GET", f"{p}/time", self._time),
            # before orders/historical/{order_id}: the first matching route answers
            *self.market.routes(p, self._signed),
            Route("POST", f"{p}/orders", self._signed(lambda r, c: self.desk.create(c, r.json()))),
            Route(
                "POST",
                f"{p}/orders/batch_cancel",
                self._signed(lambda r, c: self.desk.cancel(c, r.json())),
            ),
            Route(
                "GET",
                f"{p}/orders/historical/batch",
                self._signed(lambda r, c: self.desk.list(c, c, r)),
            ),
            Route(
                "GET",
                f"{p}/orders/historical/{{order_id}}",
                self._signed(lambda r, c: self.desk.get(c, c, r.path_params["order_id"])),
            ),
        ]

    def _signed(self, handler: Any) -> Any:
        async def run(request: HttpRequest) -> HttpResponse:
            cred = self.auth.check_request(request)
            if cred is None:
                return HttpResponse.text("Unauthorized", 401)
            return handler(request, cred.account)  # type: ignore[no-any-return]

        return run

    async def _time(self, request: HttpRequest) -> HttpResponse:
        now = self.clock.time_ns()
        return HttpResponse.json(
            {
                "iso": format_time(now),
                "epochSeconds": str(now // 10**9),
                "epochMillis": str(now // 10**6),
            }
        )

    # ------------------------------------------------------------------ WebSocket
    def _send(self, conn: WsConnection, channel: str, events: Sequence[Any]) -> None:
        state: _ConnState = conn.state
        state.seq += 1 + self._skip
        self._skip = 0
        conn.send_nowait(encode_frame(channel, state.seq, self.clock.time_ns(), events))

    def _error(self, conn: WsConnection, message: str) -> None:
        conn.send_nowait(msgspec.json.encode({"type": "error", "message": message}))

    async def on_ws_connect(self, conn: WsConnection) -> None:
        """Start the connection's state and its subscribe deadline."""
        conn.state = _ConnState(
            inbound=TokenBucket(self.messages_per_second, 1.0, now_ns=_loop_ns())
        )
        conn.start_soon(self._subscribe_deadline, conn)

    async def _subscribe_deadline(self, conn: WsConnection) -> None:
        await anyio.sleep(self.subscribe_timeout_s)
        if not conn.state.subscribed:
            await conn.close(1000, "no subscribe within 5 seconds")

    async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
        """A client's subscribe / unsubscribe."""
        state: _ConnState = conn.state
        if state.inbound is not None:
            now = _loop_ns()
            if state.inbound.delay(1, now) > _RATE_SLACK_S:
                self.rate_limited += 1
                await conn.abort(1008, "too many messages")
                return
            state.inbound.reserve(1, now)
        try:
            msg = msgspec.json.decode(message)
        except msgspec.DecodeError:
            self._error(conn, "failure to subscribe")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        channel = msg.get("channel") if isinstance(msg, dict) else None
        if kind not in ("subscribe", "unsubscribe") or not isinstance(channel, str):
            self._error(conn, "failure to subscribe")
            return
        if channel not in _CHANNELS:
            self._error(conn, "authentication failure")
            return
        token = msg.get("jwt")
        if channel == "user" or token is not None:
            cred = self.auth.check(str(token or ""), None)
            if cred is None:
                self._error(conn, "authentication failure")
                return
            state.account = cred.account
        products = [str(p) for p in msg.get("product_ids") or []]
        unknown = [p for p in products if p not in self.engines]
        if unknown and channel != "user":
            self._error(conn, "failure to subscribe")
            return
        state.subscribed = True
        current = state.subs.setdefault(channel, set())
        if kind == "unsubscribe":
            if products:
                current.difference_update(products)
            else:
                current.clear()
            if not current:
                del state.subs[channel]
            self._ack(conn)
            return
        if channel in ("heartbeats", "user") and not products:
            current.add(channel)
        current.update(products)
        self._ack(conn)
        self._initial(conn, channel, products)

    def _ack(self, conn: WsConnection) -> None:
        subs = {ch: sorted(p) for ch, p in sorted(conn.state.subs.items())}
        self._send(conn, "subscriptions", [{"subscriptions": subs}])

    def _initial(self, conn: WsConnection, channel: str, products: list[str]) -> None:
        now = self.clock.time_ns()
        if channel == "level2":
            events = []
            for pid in products:
                book = self.sim.book(self.venue, pid)
                events.append(l2_event("snapshot", pid, book.bids, book.asks, now))
            self._send(conn, "l2_data", events)
        elif channel == "market_trades":  # the recent trades, newest first, as the venue does
            recent = [trade_json(t) for pid in products
                      for t in reversed(self.tape.recent(pid, _TRADES_SNAPSHOT))]  # fmt: skip
            self._send(conn, "market_trades", [{"type": "snapshot", "trades": recent}])
        elif channel == "ticker":
            tickers = [self._ticker(pid, self.sim.mid(pid)) for pid in products]
            self._send(conn, "ticker", [{"type": "snapshot", "tickers": tickers}])
        elif channel == "candles":
            candles = [c for pid in products if (c := self.candles.current(pid)) is not None]
            self._send(conn, "candles", [{"type": "snapshot", "candles": candles}])
        elif channel == "user":
            account = conn.state.account
            orders = [
                user_order_json(e, self.desk.fills(e.order_id))
                for engine in self.engines.values()
                for e in engine.open_orders(account)
            ]
            # Open orders come batched by 50 per message (protocol notes section 5).
            for i in range(0, max(len(orders), 1), 50):
                batch = {"type": "snapshot", "orders": orders[i : i + 50], "positions": {}}
                self._send(conn, "user", [batch])

    def _ticker(self, pid: str, price: Decimal) -> dict[str, Any]:
        book = self.sim.book(self.venue, pid, depth=1)
        return ticker_json(
            pid,
            price,
            book.bids[0] if book.bids else None,
            book.asks[0] if book.asks else None,
            self.volume.get(pid, Decimal(0)),
        )

    def _subscribers(self, channel: str, product: str) -> list[WsConnection]:
        return [
            c
            for c in list(self.connections.values())
            if c.state is not None and product in c.state.subs.get(channel, ())
        ]

    def on_market_event(self, event: MarketEvent) -> None:
        """Book deltas -> ``l2_data`` updates; trades -> trades, ticker, candles."""
        pid = event.symbol
        if isinstance(event, BookDelta):
            bids, asks = l2_changes(event.changes)
            update = l2_event("update", pid, bids, asks, event.ts_ns)
            for conn in self._subscribers("level2", pid):
                self._send(conn, "l2_data", [update])
            return
        if not isinstance(event, SimTrade):  # pragma: no cover - MarketEvent is a 2-union
            return
        self.volume[pid] = self.volume.get(pid, Decimal(0)) + event.qty
        candle = self.candles.on_trade(pid, event.ts_ns, event.price, event.qty)
        for conn in self._subscribers("market_trades", pid):
            self._send(conn, "market_trades", [{"type": "update", "trades": [trade_json(event)]}])
        subs = self._subscribers("ticker", pid)
        if subs:
            tick = self._ticker(pid, event.price)
            for conn in subs:
                self._send(conn, "ticker", [{"type": "update", "tickers": [tick]}])
        for conn in self._subscribers("candles", pid):
            self._send(conn, "candles", [{"type": "update", "candles": [candle]}])

    def on_exec_event(self, event: ExecEvent) -> None:
        """Order state changes -> ``user`` updates for the account's connections."""
        order = user_order_json(event, self.desk.on_exec(event))
        for conn in list(self.connections.values()):
            state = conn.state
            if state is None or state.account != event.account or "user" not in state.subs:
                continue
            wanted = state.subs["user"]
            if "user" in wanted or event.symbol in wanted:
                self._send(conn, "user", [{"type": "update", "orders": [order], "positions": {}}])

    async def background(self) -> None:
        """``heartbeats`` every ``heartbeat_interval_s`` to subscribed connections."""
        while True:
            await anyio.sleep(self.heartbeat_interval_s)
            self._heartbeats += 1
            now = self.clock.time_ns()
            beat = {"current_time": format_time(now), "heartbeat_counter": self._heartbeats}
            for conn in list(self.connections.values()):
                if conn.state is not None and "heartbeats" in conn.state.subs:
                    self._send(conn, "heartbeats", [beat])
