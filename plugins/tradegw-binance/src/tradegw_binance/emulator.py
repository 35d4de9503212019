"""A loopback Binance spot venue on the core emulator kit (binance.md section 7).

One WebSocket server serves the market streams (``/stream`` combined framing, ``/ws`` and
``/ws/<stream>`` raw) and the WebSocket API (``/ws-api/v3``: user data stream via
``userDataStream.subscribe.signature``); one HTTP server serves ``/api/v3/*``. Rules kept:

* depth diffs carry ``U``/``u`` from the simulator's per-symbol update counter, batched
  every 100 ms (``@depth@100ms``) or 1000 ms (``@depth``); ``GET /api/v3/depth`` answers
  the same counter as ``lastUpdateId``;
* control messages are acked ``{"result": null, "id": n}`` or answered with the numbered
  errors; more than 5 inbound frames per second closes the connection;
* signed requests are verified byte for byte (HMAC-SHA256 over query + body), with
  ``recvWindow``; -1021 / -1022 / -2014 / -2015 / -2010 "Duplicate order sent." exactly;
* request weight is budgeted (429 with ``Retry-After``); faults come from the kit's plan.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import msgspec

from tradegw_binance.emulator_account import BinanceAccountMixin
from tradegw_binance.emulator_market import BinanceMarketMixin
from tradegw_binance.emulator_rest import BinanceRestMixin
from tradegw_binance.emulator_wire import (
    dec,
    depth_update,
    execution_report,
    stream_frame,
    venue_symbol,
)
from tradegw_binance.signing import format_param, ws_api_payload
from tradegw_core.schema.events import Side
from tradegw_core.sim.emulator import ApiCredentials, Emulator, EmulatorConfig, WsConnection
from tradegw_core.sim.market import BookDelta, MarketEvent, SimTrade, VenueProfile
from tradegw_core.sim.matching import ExecEvent, OrderState

__all__ = ["BinanceEmulator"]

_MS = 1_000_000
_CONTROL_METHODS = (
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST_SUBSCRIPTIONS",
    "SET_PROPERTY",
    "GET_PROPERTY",
)


@dataclass
class _MarketConn:
    combined: bool
    inbound: deque[float] = field(default_factory=deque)


@dataclass
class _ApiConn:
    account: str | None = None
    subscription_id: int | None = None
    next_subscription: int = 0


@dataclass
class _PendingDepth:
    first: int
    last: int
    levels: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)


_PARTIAL_LEVELS = (5, 10, 20)


class BinanceEmulator(BinanceRestMixin, BinanceMarketMixin, BinanceAccountMixin, Emulator):
    """The Binance spot emulator (see the module docstring).

    ``options``: ``messages_per_second`` (5), ``depth_interval_s`` (0.1),
    ``request_weight_per_minute`` (6000), ``shutdown_grace_s`` (1.0: between the
    ``serverShutdown`` notice and the close at the end of a connection's lifetime).
    """

    ws_path: ClassVar[str] = ""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        opts = config.options
        self.messages_per_second = int(opts.get("messages_per_second", 5))
        self.depth_interval_s = float(opts.get("depth_interval_s", 0.1))
        self.shutdown_grace_s = float(opts.get("shutdown_grace_s", 1.0))
        self.init_rest(int(opts.get("request_weight_per_minute", 6000)))
        self._exec_ids = itertools.count(1)
        self._fast: dict[str, _PendingDepth] = {}
        self._slow: dict[str, _PendingDepth] = {}
        self.by_venue_symbol = {venue_symbol(s): s for s in self.symbols}

    def venue_profile(self) -> VenueProfile:
        """1000 levels a side (``GET /api/v3/depth`` up to limit 1000 is full; a larger
        limit answers every level there is), resized near the top like a real book."""
        return VenueProfile(self.venue, depth=1000, jitter_ticks=20)

    @property
    def ws_api_url(self) -> str:
        """The WebSocket API endpoint of the running emulator."""
        return f"{self.ws_url}/ws-api/v3"

    def endpoints(self) -> dict[str, str]:
        """REST, the combined market streams the provider uses, and the WebSocket API."""
        return {"rest": self.rest_url, "ws": f"{self.ws_url}/stream", "ws_api": self.ws_api_url}

    def client_settings(self, **overrides: Any) -> Any:
        """``BinanceSettings`` pointing at this emulator with its first test credentials."""
        from tradegw_binance.config import BinanceSettings

        cred = self.credentials[0]
        base: dict[str, Any] = {
            "rest_url": self.rest_url,
            "ws_url": f"{self.ws_url}/stream",
            "ws_api_url": self.ws_api_url,
            "api_key": cred.api_key,
            "api_secret": cred.api_secret,
            "symbols": tuple(self.symbols),
        }
        base.update(overrides)
        return BinanceSettings(**base)

    def now_ms(self) -> int:
        """Venue time in milliseconds."""
        return self.clock.time_ns() // _MS

    # -- WebSocket ------------------------------------------------------------------------
    async def on_ws_connect(self, conn: WsConnection) -> None:
        """Route by path: market streams or the WebSocket API."""
        path = conn.path.rstrip("/")
        if path == "/ws-api/v3":
            conn.state = _ApiConn()
        elif path == "/stream":
            conn.state = _MarketConn(combined=True)
            streams = conn.query.get("streams", "")
            conn.subscriptions.update(s for s in streams.split("/") if s)
        elif path == "/ws" or path.startswith("/ws/"):
            conn.state = _MarketConn(combined=False)
            if path.startswith("/ws/"):
                conn.subscriptions.add(path[4:])
        else:
            await conn.abort(1008, f"unknown path {conn.path}")

    async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
        """Control messages (market connections) or API requests."""
        state = conn.state
        if isinstance(state, _ApiConn):
            await self._api_request(conn, state, message)
        elif isinstance(state, _MarketConn):
            now = anyio.current_time()
            state.inbound.append(now)
            while state.inbound and state.inbound[0] <= now - 1.0:
                state.inbound.popleft()
            if len(state.inbound) > self.messages_per_second:
                await conn.abort(1008, "too many messages")
                return
            conn.send_nowait(self._control(conn, state, message))

    def _control(self, conn: WsConnection, state: _MarketConn, message: str | bytes) -> str:
        try:
            req = msgspec.json.decode(message)
        except msgspec.DecodeError as exc:
            return _json({"code": 3, "msg": f"Invalid JSON: {exc}", "id": None})
        if not isinstance(req, dict):
            return _json({"code": 3, "msg": "Invalid JSON: expected an object", "id": None})
        req_id = req.get("id")
        method = req.get("method")
        if "id" not in req or not isinstance(req_id, int | str | type(None)):
            return _json({"code": 2, "msg": "Invalid request: request ID must be an unsigned "
                          "integer", "id": req_id})  # fmt: skip
        if method not in _CONTROL_METHODS:
            return _json({"code": 2, "msg": "Invalid request: unknown method; expected one of "
                          + ", ".join(_CONTROL_METHODS), "id": req_id})  # fmt: skip
        params = req.get("params", [])
        if method == "SUBSCRIBE":
            conn.subscriptions.update(str(p) for p in params)
        elif method == "UNSUBSCRIBE":
            conn.subscriptions.difference_update(str(p) for p in params)
        elif method == "LIST_SUBSCRIPTIONS":
            return _json({"result": sorted(conn.subscriptions), "id": req_id})
        elif method == "SET_PROPERTY":
            if len(params) != 2 or params[0] != "combined":
                return _json({"code": 0, "msg": "Unknown property", "id": req_id})
            if not isinstance(params[1], bool):
                return _json({"code": 1, "msg": "Invalid value type: expected Boolean",
                              "id": req_id})  # fmt: skip
            state.combined = params[1]
        else:
            return _json({"result": state.combined, "id": req_id})
        return _json({"result": None, "id": req_id})

    async def _api_request(self, conn: WsConnection, state: _ApiConn, message: str | bytes) -> None:
        try:
            req = msgspec.json.decode(message)
            req_id, method, params = req.get("id"), req["method"], req.get("params", {})
        except (msgspec.DecodeError, KeyError, AttributeError):
            conn.send_nowait(_api_error(None, 400, -1102, "Malformed request."))
            return
        if method == "userDataStream.subscribe.signature":
            conn.send_nowait(self._uds_subscribe(state, req_id, params))
        elif method in ("order.place", "order.cancel", "order.status"):
            conn.send_nowait(self._ws_order(req_id, method, params))
        elif method == "userDataStream.unsubscribe":
            sub = state.subscription_id
            state.subscription_id = None
            conn.send_nowait(_json({"id": req_id, "status": 200, "result": {}}))
            if sub is not None:
                conn.send_nowait(_json({"subscriptionId": sub, "event": {
                    "e": "eventStreamTerminated", "E": self.now_ms()}}))  # fmt: skip
        else:
            conn.send_nowait(_api_error(req_id, 400, -1020, "This operation is not supported."))

    def _ws_auth(self, req_id: Any, params: dict[str, Any]) -> ApiCredentials | str:
        """The caller's credentials, or the error frame (key, signature, timestamp)."""
        cred = self.account_for_key(str(params.get("apiKey", "")))
        if cred is None:
            return _api_error(req_id, 401, -2015, "Invalid API-key, IP, or permissions for action.")
        signature = str(params.get("signature"))
        if not self.verify_signature(cred, ws_api_payload(params), signature):
            return _api_error(req_id, 400, -1022, "Signature for this request is not valid.")
        problem = self.check_timestamp(params.get("timestamp"), params.get("recvWindow"))
        if problem is not None:
            return _api_error(req_id, 400, *problem)
        return cred

    def _ws_order(self, req_id: Any, method: str, params: dict[str, Any]) -> str:
        cred = self._ws_auth(req_id, params)
        if isinstance(cred, str):
            return cred
        action = {"order.place": self.place_order, "order.cancel": self.cancel_order,
                  "order.status": self.query_order}[method]  # fmt: skip
        skip = {"apiKey", "signature", "timestamp", "recvWindow"}
        p = {k: format_param(v) for k, v in params.items() if k not in skip}
        status, body = action(cred.account, p)
        key = "result" if status == 200 else "error"
        return _json({"id": req_id, "status": status, key: body})

    def _uds_subscribe(self, state: _ApiConn, req_id: Any, params: dict[str, Any]) -> str:
        cred = self._ws_auth(req_id, params)
        if isinstance(cred, str):
            return cred
        if state.subscription_id is not None:
            return _api_error(req_id, 400, -2035, "User Data Stream subscription already active.")
        state.account = cred.account
        state.subscription_id = state.next_subscription
        state.next_subscription += 1
        return _json({"id": req_id, "status": 200,
                      "result": {"subscriptionId": state.subscription_id}})  # fmt: skip

    async def on_ws_lifetime_end(self, conn: WsConnection) -> None:
        """Announce the planned close like the venue does, then allow a short grace."""
        shutdown = {"e": "serverShutdown", "E": self.now_ms()}
        if isinstance(conn.state, _MarketConn):
            conn.send_nowait(
                stream_frame("!serverShutdown", shutdown, combined=conn.state.combined)
            )
        else:
            conn.send_nowait(_json({"event": shutdown}))
        await anyio.sleep(self.shutdown_grace_s)

    # -- market data ----------------------------------------------------------------------
    def on_market_event(self, event: MarketEvent) -> None:
        """Batch book deltas for the depth streams; push BBO, trades and klines at once."""
        if isinstance(event, BookDelta):
            for pending in (self._fast, self._slow):
                p = pending.get(event.symbol)
                if p is None:
                    p = pending[event.symbol] = _PendingDepth(event.seq, event.seq)
                p.last = event.seq
                for ch in event.changes:
                    p.levels[(ch.side, ch.price)] = ch.qty
            self._book_ticker(event)
        elif isinstance(event, SimTrade):
            self._trade(event)

    def _publish(self, stream: str, data: dict[str, Any]) -> None:
        for conn in list(self.connections.values()):
            state = conn.state
            if isinstance(state, _MarketConn) and stream in conn.subscriptions:
                conn.send_nowait(stream_frame(stream, data, combined=state.combined))

    def _book_ticker(self, delta: BookDelta) -> None:
        name = f"{venue_symbol(delta.symbol).lower()}@bookTicker"
        bid = self.sim.best(self.venue, delta.symbol, Side.BUY)
        ask = self.sim.best(self.venue, delta.symbol, Side.SELL)
        if bid is None or ask is None:
            return
        spec = self.sim.specs[delta.symbol]
        self._publish(name, {
            "u": delta.seq, "s": venue_symbol(delta.symbol),
            "b": dec(spec.tick * bid[0]), "B": dec(spec.lot * bid[1]),
            "a": dec(spec.tick * ask[0]), "A": dec(spec.lot * ask[1]),
        })  # fmt: skip

    def _trade(self, trade: SimTrade) -> None:
        sym = venue_symbol(trade.symbol)
        ms = trade.ts_ns // _MS
        self._publish(f"{sym.lower()}@trade", {
            "e": "trade", "E": ms, "s": sym, "t": trade.trade_id, "p": dec(trade.price),
            "q": dec(trade.qty), "T": ms, "m": trade.aggressor is Side.SELL, "M": True,
        })  # fmt: skip
        self._publish(f"{sym.lower()}@aggTrade", {
            "e": "aggTrade", "E": ms, "s": sym, "a": trade.trade_id, "p": dec(trade.price),
            "q": dec(trade.qty), "f": trade.trade_id, "l": trade.trade_id, "T": ms,
            "m": trade.aggressor is Side.SELL, "M": True,
        })  # fmt: skip
        self.publish_trade_figures(trade, self._publish)

    def flush_depth(self, slow: bool = False) -> int:
        """Send the batched diffs of one speed; returns how many frames were built."""
        pending, suffix = (self._slow, "depth") if slow else (self._fast, "depth@100ms")
        built = 0
        for symbol, p in list(pending.items()):
            bids = sorted(((pr, q) for (s, pr), q in p.levels.items() if s is Side.BUY),
                          reverse=True)  # fmt: skip
            asks = sorted((pr, q) for (s, pr), q in p.levels.items() if s is Side.SELL)
            data = depth_update(symbol, p.first, p.last, bids, asks, self.now_ms())
            self._publish(f"{venue_symbol(symbol).lower()}@{suffix}", data)
            built += 1
        pending.clear()
        return built + self.flush_partial_depth(slow)

    def flush_partial_depth(self, slow: bool = False) -> int:
        """Publish ``@depth<5|10|20>`` (``slow``) or ``...@100ms`` to their subscribers."""
        wanted = {s for c in self.connections.values() if isinstance(c.state, _MarketConn)
                  for s in c.subscriptions}  # fmt: skip
        built = 0
        for symbol in self.symbols:
            low = venue_symbol(symbol).lower()
            for levels in _PARTIAL_LEVELS:
                name = f"{low}@depth{levels}" + ("" if slow else "@100ms")
                if name in wanted:
                    self._publish(name, self.partial_depth(symbol, levels))
                    built += 1
        return built

    async def background(self) -> None:
        """Flush depth batches every 100 ms, and every 1000 ms for ``@depth``."""
        for tick in itertools.count(1):
            await anyio.sleep(self.depth_interval_s)
            self.flush_depth()
            if tick % 10 == 0:
                self.flush_depth(slow=True)

    # -- user data ------------------------------------------------------------------------
    def on_exec_event(self, event: ExecEvent) -> None:
        """Push an ``executionReport`` to the account's user data subscriptions."""
        if event.state is OrderState.REJECTED:
            return
        report = execution_report(event, next(self._exec_ids))
        for conn in list(self.connections.values()):
            state = conn.state
            if (
                isinstance(state, _ApiConn)
                and state.subscription_id is not None
                and state.account == event.account
            ):
                conn.send_nowait(_json({"subscriptionId": state.subscription_id, "event": report}))


def _json(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


def _api_error(req_id: Any, status: int, code: int, msg: str) -> str:
    return _json({"id": req_id, "status": status, "error": {"code": code, "msg": msg}})
