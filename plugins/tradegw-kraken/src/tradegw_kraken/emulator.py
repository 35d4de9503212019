"""A loopback Kraken spot emulator (WebSocket v2 + REST) on the tradegw emulator kit.

WebSocket v2 on ``ws_url`` (one endpoint for public and private channels; ``executions``
needs a token from ``GetWebSocketsToken``): ``status`` first, one ack per symbol, depths
outside {10, 25, 100, 500, 1000} refused, ``ping``/``pong``, a heartbeat every second once
something is subscribed, ``book`` with the real CRC32 on every snapshot and update and no
delete for levels pushed out of the subscribed depth, ``trade``, ``ticker``, ``ohlc``,
``instrument`` and ``executions`` (with ``sequence``, one message per entry; a completing
fill is sent as a ``trade`` saying ``partially_filled`` followed by a separate ``filled``,
as Kraken does), and the trading methods of :mod:`tradegw_kraken.emulator_trading`.
REST (:mod:`tradegw_kraken.emulator_rest`): public pairs/depth, signed private calls with
API-Sign verified byte for byte and increasing nonces enforced per key.

Faults: everything of :class:`~tradegw_core.sim.faults.FaultPlan`; ``Corrupt`` on a book
frame flips its checksum; ``options={"shuffle_levels": True}`` reorders update levels.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import random
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import msgspec

from tradegw_core.sim.connection import WsConnection
from tradegw_core.sim.emulator import ApiCredentials, Emulator, EmulatorConfig
from tradegw_core.sim.http import HttpRequest, HttpResponse, Route
from tradegw_core.sim.market import BookDelta, MarketEvent, SimTrade, VenueProfile
from tradegw_core.sim.orders import ExecEvent
from tradegw_kraken.config import BOOK_DEPTHS, OHLC_INTERVALS
from tradegw_kraken.emulator_book import DepthView, VenueBook
from tradegw_kraken.emulator_public import asset_precision
from tradegw_kraken.emulator_rest import KrakenRestApi
from tradegw_kraken.emulator_trading import (
    TRADING_METHODS,
    exec_entries,
    fire_dead_man,
    order_fields,
    trade,
)
from tradegw_kraken.emulator_wire import EmulatedPair, encode, levels, rfc3339

__all__ = ["KrakenEmulator"]


def _wants_ohlc(symbol: str, interval: int, conn: WsConnection) -> bool:
    return conn.state is not None and conn.state.ohlc.get(symbol) == interval


class _ConnState:
    """What one client connection subscribed to."""

    def __init__(self) -> None:
        self.books: dict[str, DepthView] = {}
        self.trades: set[str] = set()
        self.tickers: set[str] = set()
        self.ohlc: dict[str, int] = {}
        self.account: str | None = None
        self.exec_seq = 0

    @property
    def active(self) -> bool:
        return bool(self.books or self.trades or self.tickers or self.ohlc or self.account)


class KrakenEmulator(Emulator):
    """Kraken spot on loopback; see the module docstring."""

    ws_path: ClassVar[str] = "/v2"
    maker_fee: ClassVar[Decimal] = Decimal("0.0016")
    taker_fee: ClassVar[Decimal] = Decimal("0.0026")

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        for cred in self.credentials:
            try:
                base64.b64decode(cred.api_secret, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(
                    f"the API secret of key {cred.api_key!r} is not base64 "
                    "(Kraken private keys are base64 text)"
                ) from exc
        self.pairs: dict[str, EmulatedPair] = {}
        self.by_name: dict[str, EmulatedPair] = {}
        self.books: dict[str, VenueBook] = {}
        for symbol in self.symbols:
            pair = EmulatedPair(self.sim.specs[symbol], self.venue)
            self.pairs[symbol] = pair
            for name in (pair.ws_name, pair.v1_name, pair.rest_name, pair.rest_key):
                self.by_name[name] = pair
            book = self.books[symbol] = VenueBook(pair.instrument)
            snap = self.sim.book(self.venue, symbol)
            for price, qty in snap.bids:
                book.set("bids", price, qty)
            for price, qty in snap.asks:
                book.set("asks", price, qty)
        self.rest = KrakenRestApi(self)
        self.tokens: dict[str, str] = {}
        self.dead_man: dict[str, int] = {}
        """Account -> when (ns, emulator clock) its ``cancel_all_orders_after`` fires."""
        self._rng = random.Random(config.seed)
        self._candles: dict[tuple[str, int], dict[str, Any]] = {}

    def default_credentials(self) -> tuple[ApiCredentials, ...]:
        """One test key with a base64 secret, as Kraken issues them."""
        secret = base64.b64encode(hashlib.sha512(f"{self.config.seed}".encode()).digest())
        return (ApiCredentials("kraken-test-key", secret.decode()),)

    def venue_profile(self) -> VenueProfile:
        """1000 levels a side, so every book depth (10..1000) is served full; resized near
        the top like a real book."""
        return VenueProfile(self.venue, depth=1000, jitter_ticks=20)

    def http_routes(self) -> list[Route]:
        """Kraken's REST surface."""
        return self.rest.routes()

    def unknown_route(self, request: HttpRequest) -> HttpResponse:
        """Kraken's error list for a method it does not have."""
        return HttpResponse.json({"error": ["EGeneral:Unknown method"]}, 404)

    def client_settings(self, **overrides: Any) -> Any:
        """``KrakenSettings`` pointing at this emulator with its first test credentials."""
        from tradegw_kraken.config import KrakenSettings

        cred = self.credentials[0]
        base: dict[str, Any] = {
            "ws_public_url": self.ws_url,
            "ws_auth_url": self.ws_url,
            "rest_url": self.rest_url,
            "api_key": cred.api_key,
            "api_secret": cred.api_secret,
            "symbols": tuple(self.symbols),
        }
        base.update(overrides)
        return KrakenSettings(**base)

    # ------------------------------------------------------------------ WebSocket
    async def on_ws_connect(self, conn: WsConnection) -> None:
        """Send ``status`` first, as the venue does."""
        conn.state = _ConnState()
        status = {"api_version": "v2", "connection_id": 14949390454975033707 + conn.id,
                  "system": "online", "version": "2.0.8"}  # fmt: skip
        await conn.send(encode({"channel": "status", "data": [status], "type": "update"}))

    async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
        """Requests: ping, subscribe, unsubscribe."""
        time_in = rfc3339(self.clock.time_ns())
        try:
            req = msgspec.json.decode(message)
            method, params, req_id = req.get("method"), req.get("params") or {}, req.get("req_id")
        except (msgspec.DecodeError, AttributeError):
            await conn.send(encode({"error": "Malformed request", "success": False}))
            return
        base: dict[str, Any] = {"method": method, "time_in": time_in}
        if req_id is not None:
            base["req_id"] = req_id
        if method == "ping":
            await conn.send(encode({**base, "method": "pong", "time_out": time_in}))
        elif method in ("subscribe", "unsubscribe"):
            for answer in self._subscription(conn, method, params):
                then = answer.pop("_then", ())
                out = {**base, "time_out": rfc3339(self.clock.time_ns()), **answer}
                await conn.send(encode(out))
                for frame in then:
                    await conn.send(frame)
        elif method in TRADING_METHODS:
            for answer in trade(self, method, params):
                out = {**base, **answer, "time_out": rfc3339(self.clock.time_ns())}
                await conn.send(encode(out))
        else:
            await conn.send(encode({**base, "success": False, "error": "Method not supported",
                                    "time_out": time_in}))  # fmt: skip

    def _subscription(
        self, conn: WsConnection, method: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        state: _ConnState = conn.state
        channel = params.get("channel")
        subscribe = method == "subscribe"
        if channel == "executions":
            account = self.tokens.get(str(params.get("token")))
            if account is None:
                return [{"success": False, "error": "EAPI:Invalid key"}]
            state.account = account if subscribe else None
            state.exec_seq = 0
            answer: dict[str, Any] = {"success": True, "result": {"channel": channel}}
            if subscribe and params.get("snap_orders", True):
                answer["_then"] = [self._exec_snapshot(conn, account)]
            return [answer]
        if channel == "instrument":
            codes = sorted({c for p in self.pairs.values() for c in (p.spec.base, p.spec.quote)})
            assets = [{"id": c, "status": "enabled", "precision": asset_precision(c)[0],
                       "precision_display": asset_precision(c)[1]} for c in codes]  # fmt: skip
            data = {"assets": assets, "pairs": [p.instrument_pair() for p in self.pairs.values()]}
            frame = encode({"channel": "instrument", "type": "snapshot", "data": data})
            return [{"success": True, "result": {"channel": channel}, "_then": [frame]}]
        depth = params.get("depth", 10)
        if channel == "book" and depth not in BOOK_DEPTHS:
            return [{"success": False, "error": "Subscription depth not supported"}]
        interval = params.get("interval", 1)
        if channel == "ohlc" and interval not in OHLC_INTERVALS:
            return [{"success": False, "error": "Subscription interval not supported"}]
        if channel not in ("book", "trade", "ticker", "ohlc"):
            return [{"success": False, "error": f"Channel {channel} not supported"}]
        answers = []
        for name in params.get("symbol") or []:
            pair = self.by_name.get(name)
            if pair is None or pair.ws_name != name:  # v2 takes BTC/USD, not XBT/USD
                answers.append({"success": False, "error": "Currency pair not supported",
                                "symbol": name})  # fmt: skip
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": name}
            then: list[str] = []
            sym = pair.instrument.symbol
            if channel == "book":
                result.update(depth=depth, snapshot=True)
                if subscribe:
                    view = state.books[sym] = DepthView(self.books[sym], depth)
                    then.append(self._book_frame(pair, "snapshot", view.snapshot()))
                else:
                    state.books.pop(sym, None)
            elif channel == "trade":
                (state.trades.add if subscribe else state.trades.discard)(sym)
                if subscribe and params.get("snapshot") is True:  # default false for trade
                    result["snapshot"] = True
                    then.append(self._trade_snapshot(pair))
            elif channel == "ticker":
                (state.tickers.add if subscribe else state.tickers.discard)(sym)
                if subscribe:
                    then.append(self._ticker_frame(pair, "snapshot"))
            else:
                result["interval"] = interval
                if subscribe:
                    state.ohlc[sym] = interval
                else:
                    state.ohlc.pop(sym, None)
            answers.append({"success": True, "result": result, "_then": then})
        return answers

    async def background(self) -> None:
        """A heartbeat every second on connections with a subscription; fires due dead
        man's switches (``cancel_all_orders_after``)."""
        beat = encode({"channel": "heartbeat"})
        while True:
            await anyio.sleep(1.0)
            fire_dead_man(self)
            self.broadcast(beat, lambda c: isinstance(c.state, _ConnState) and c.state.active)

    def corrupt_frame(self, conn: WsConnection, frame: str | bytes) -> str | bytes:
        """A book frame keeps its levels but carries a wrong checksum."""
        try:
            msg = msgspec.json.decode(frame)
        except msgspec.DecodeError:
            return frame[:-1]
        if isinstance(msg, dict) and msg.get("channel") == "book":
            for entry in msg["data"]:
                entry["checksum"] = (int(entry["checksum"]) + 1) % 2**32
            return msgspec.json.Encoder(decimal_format="number").encode(msg).decode()
        return frame[:-1]

    # ------------------------------------------------------------------ market data
    def on_market_event(self, event: MarketEvent) -> None:
        """Book deltas -> per-subscription book updates; trades -> trade/ticker/ohlc."""
        pair = self.pairs.get(event.symbol)
        if pair is None:
            return
        if isinstance(event, BookDelta):
            book = self.books[event.symbol]
            for change in event.changes:
                book.set("bids" if change.side.value == "buy" else "asks", change.price,
                         change.qty)  # fmt: skip
            for conn in list(self.connections.values()):
                view = conn.state.books.get(event.symbol) if conn.state else None
                update = view.update() if view is not None else None
                if update is not None:
                    if self.config.options.get("shuffle_levels"):
                        self._rng.shuffle(update.bids)
                        self._rng.shuffle(update.asks)
                    conn.send_nowait(self._book_frame(pair, "update", update, event.ts_ns))
        elif isinstance(event, SimTrade):
            entry = _trade_entry(pair, event)
            frame = encode({"channel": "trade", "type": "update", "data": [entry]})
            self.broadcast(frame, lambda c: c.state is not None and event.symbol in c.state.trades)
            ticker = self._ticker_frame(pair, "update", event.ts_ns, event.price)
            self.broadcast(
                ticker, lambda c: c.state is not None and event.symbol in c.state.tickers
            )
            self._ohlc(pair, event)

    def _trade_snapshot(self, pair: EmulatedPair) -> str:
        """The last 50 trades, as the venue sends them after ``snapshot: true``."""
        recent = self.tape.recent(pair.instrument.symbol, 50)
        data = [_trade_entry(pair, t) for t in recent]
        return encode({"channel": "trade", "type": "snapshot", "data": data})

    def _book_frame(self, pair: EmulatedPair, kind: str, msg: Any, ts_ns: int | None = None) -> str:
        entry = {"symbol": pair.ws_name, "bids": levels(msg.bids), "asks": levels(msg.asks),
                 "checksum": msg.checksum,
                 "timestamp": rfc3339(ts_ns or self.clock.time_ns())}  # fmt: skip
        return encode({"channel": "book", "type": kind, "data": [entry]})

    def _ticker_frame(
        self, pair: EmulatedPair, kind: str, ts_ns: int | None = None, last: Decimal | None = None
    ) -> str:
        book = self.books[pair.instrument.symbol]
        bid, ask = book.top("bids", 1), book.top("asks", 1)
        entry: dict[str, Any] = {"symbol": pair.ws_name,
                                 "timestamp": rfc3339(ts_ns or self.clock.time_ns())}  # fmt: skip
        if bid:
            entry.update(bid=bid[0].price, bid_qty=bid[0].qty)
        if ask:
            entry.update(ask=ask[0].price, ask_qty=ask[0].qty)
        if last is not None:
            entry["last"] = pair.price(last)
        return encode({"channel": "ticker", "type": kind, "data": [entry]})

    def _ohlc(self, pair: EmulatedPair, trade: SimTrade) -> None:
        sym = pair.instrument.symbol
        for interval in {c.state.ohlc[sym] for c in self.connections.values()
                         if c.state is not None and sym in c.state.ohlc}:  # fmt: skip
            span = interval * 60 * 1_000_000_000
            begin = trade.ts_ns - trade.ts_ns % span
            price, qty = pair.price(trade.price), pair.qty(trade.qty)
            candle = self._candles.get((sym, interval))
            if candle is None or candle["_begin"] != begin:
                candle = {"_begin": begin, "symbol": pair.ws_name, "open": price, "high": price,
                          "low": price, "close": price, "volume": Decimal(0), "trades": 0,
                          "interval_begin": rfc3339(begin), "interval": interval}  # fmt: skip
                self._candles[(sym, interval)] = candle
            candle.update(high=max(candle["high"], price), low=min(candle["low"], price),
                          close=price, volume=candle["volume"] + qty,
                          trades=candle["trades"] + 1, timestamp=rfc3339(trade.ts_ns))  # fmt: skip
            data = {k: v for k, v in candle.items() if not k.startswith("_")}
            frame = encode({"channel": "ohlc", "type": "update", "data": [data]})
            self.broadcast(frame, functools.partial(_wants_ohlc, sym, interval))

    # ------------------------------------------------------------------ executions
    def on_exec_event(self, event: ExecEvent) -> None:
        """Order changes -> ``executions`` messages, one per entry, in the venue's order."""
        entries = exec_entries(self, event)
        for conn in list(self.connections.values()):
            if conn.state is not None and conn.state.account == event.account:
                for entry in entries:
                    conn.state.exec_seq += 1
                    frame = {"channel": "executions", "type": "update",
                             "sequence": conn.state.exec_seq, "data": [entry]}  # fmt: skip
                    conn.send_nowait(encode(frame))

    def _exec_snapshot(self, conn: WsConnection, account: str) -> str:
        entries = []
        for engine in self.engines.values():
            for event in engine.open_orders(account):
                entries.append({**order_fields(self, event), "exec_type": "new",
                                "order_status": event.state.value})  # fmt: skip
        conn.state.exec_seq += 1
        return encode({"channel": "executions", "type": "snapshot",
                       "sequence": conn.state.exec_seq, "data": entries})  # fmt: skip


def _trade_entry(pair: EmulatedPair, t: SimTrade) -> dict[str, Any]:
    return {"symbol": pair.ws_name, "side": t.aggressor.value, "price": pair.price(t.price),
            "qty": pair.qty(t.qty), "ord_type": "market" if t.origin == "market" else "limit",
            "trade_id": t.trade_id, "timestamp": rfc3339(t.ts_ns)}  # fmt: skip
