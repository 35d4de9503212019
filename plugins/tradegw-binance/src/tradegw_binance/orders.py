"""The Binance spot order adapter: signed REST orders and the WebSocket API user stream.

``submit`` sends ``POST /api/v3/order`` once. A client order id is never sent twice by this
adapter (the venue itself only refuses a duplicate while the first order is open). A lost
answer (timeout, 5xx, -1007) raises ``OrderOutcomeUnknownError``: the caller resolves it
with :meth:`BinanceOrderAdapter.query` (``GET /api/v3/order?origClientOrderId=``), never by
resending. ``run`` keeps the user data stream (``user_stream.py``) and, after a reconnect,
queries the orders that were open and emits what changed meanwhile, in order.

Usage::

    adapter = BinanceOrderAdapter(settings, clock=clock, transport=transport)
    async with anyio.create_task_group() as tg:
        await tg.start(adapter.run, emit)          # instruments loaded, user stream live
        ack = await adapter.submit(order)
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from anyio.abc import TaskStatus

from tradegw_binance.config import BinanceSettings
from tradegw_binance.decoding import decode_order
from tradegw_binance.errors import BinanceRejectedError
from tradegw_binance.http import (
    CANCEL_ORDER,
    EXCHANGE_INFO,
    NEW_ORDER,
    QUERY_ORDER,
    SERVER_TIME,
    BinanceRestSigner,
    make_signer,
    make_venue_http,
)
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.schemas import BinanceOrderMsg
from tradegw_binance.signing import format_param
from tradegw_binance.symbols import BinanceSymbolMap
from tradegw_binance.user_stream import OrderTracker, UserStream
from tradegw_binance.values import FrameRejected
from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import (
    AuthenticationError,
    ControlError,
    DuplicateOrderError,
    OrderOutcomeUnknownError,
    OrderValidationError,
    RateLimitedError,
    SchemaError,
    VenueConnectionError,
)
from tradegw_core.net.http import VenueHttp
from tradegw_core.net.ws import WsClient
from tradegw_core.observability.rejects import FrameRejects, RejectHandler
from tradegw_core.schema.events import ExecReport
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderType
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["CLIENT_ORDER_ID_RE", "BinanceOrderAdapter"]

CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
"""The allowed ``newClientOrderId`` form (FIX spec ``^[a-zA-Z0-9-_]{1,36}$``)."""

_SENT_IDS_KEPT = 100_000


class BinanceOrderAdapter:
    """``OrderAdapter`` for Binance spot (see the module docstring)."""

    def __init__(
        self,
        settings: Any,
        *,
        provider_id: str = "binance",
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ws_connect_kwargs: Mapping[str, Any] | None = None,
        on_reject: RejectHandler | None = None,
    ) -> None:
        self.settings = settings
        self._on_reject = on_reject
        self._reject: RejectHandler = (
            on_reject if on_reject is not None else FrameRejects(provider_id).reject
        )
        self.provider_id = provider_id
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._telemetry = telemetry
        self._transport = transport
        self._ws_connect_kwargs = dict(ws_connect_kwargs or {})
        self._http: VenueHttp | None = None
        self._rest_signer: BinanceRestSigner | None = None
        self._symbols = BinanceSymbolMap([])
        self._parser = BinanceParser(provider_id, self._symbols)
        self.tracker = OrderTracker()
        self._sent: OrderedDict[str, None] = OrderedDict()
        self.user_stream: UserStream | None = None

    @classmethod
    def from_context(cls, ctx: Any) -> BinanceOrderAdapter:
        """Build from an ``OrderAdapterContext``."""
        settings = ctx.settings if ctx.settings is not None else BinanceSettings()
        return cls(
            settings,
            provider_id=ctx.provider_id,
            clock=ctx.clock,
            telemetry=ctx.telemetry,
            on_reject=ctx.reject_frame,
        )

    # -- lifecycle -----------------------------------------------------------------------
    @asynccontextmanager
    async def open(self) -> AsyncIterator[BinanceOrderAdapter]:
        """Open the REST client, load instruments and the venue clock offset (no stream)."""
        client, http, rest_signer = make_venue_http(
            self.settings, self._clock, transport=self._transport, signed=True
        )
        async with client:
            self._http, self._rest_signer = http, rest_signer
            try:
                info = await http.request(EXCHANGE_INFO, raw=True)
                self._symbols = BinanceSymbolMap.from_exchange_info(info, self.provider_id)
                self._parser = BinanceParser(self.provider_id, self._symbols)
                await self.sync_time()
                yield self
            finally:
                self._http = None

    async def run(
        self, emit: Callable[[ExecReport], None], *, task_status: TaskStatus[None]
    ) -> None:
        """Keep the user data stream until cancelled; ``started`` once subscribed."""
        async with self.open():
            assert self._rest_signer is not None
            signer = make_signer(self.settings)
            assert signer is not None
            assert self.settings.api_key is not None
            stream = UserStream(
                self._parser,
                self.tracker,
                api_key=self.settings.api_key.get_secret_value(),
                signer=signer,
                timestamp_ms=self._rest_signer.timestamp_ms,
                emit=emit,
                recover=self.recover,
                now_ns=self._clock.monotonic_ns,
                telemetry=self._telemetry,
                reject=self._on_reject,
            )
            self.user_stream = stream
            ws = WsClient(
                self.settings.ws_api_url,
                on_frame=stream.on_frame,
                on_connect=stream.on_connect,
                name=f"{self.provider_id}-user",
                telemetry=self._telemetry,
                stale_after_s=None,
                max_lifetime_s=self.settings.connection_lifetime_s,
                rollover_margin_s=min(60.0, self.settings.connection_lifetime_s / 10),
                connect_kwargs=self._ws_connect_kwargs,
                on_reject=self._on_reject,
            )
            stream.on_rollover = ws.request_rollover
            async with anyio.create_task_group() as tg:
                await tg.start(ws.run)
                task_status.started()
                await anyio.sleep_forever()

    async def sync_time(self) -> None:
        """Align signed timestamps with ``/api/v3/time`` (fixes -1021 after clock drift)."""
        http, signer = self._require()
        body = await http.request(SERVER_TIME)
        signer.offset_ms = int(body["serverTime"]) - self._clock.time_ns() // 1_000_000

    # -- OrderAdapter --------------------------------------------------------------------
    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable pairs from exchangeInfo (empty before ``run``/``open``)."""
        return self._symbols.instruments()

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        """None when the id fits ``^[a-zA-Z0-9-_]{1,36}$``, else why not."""
        if CLIENT_ORDER_ID_RE.match(client_order_id):
            return None
        return (
            f"binance client order ids are 1-36 characters of letters, digits, '-' and '_' "
            f"(got {client_order_id!r})"
        )

    async def submit(self, order: OrderRequest) -> SubmitAck:
        """Send a new order exactly once (see the module docstring)."""
        why = self.validate_client_order_id(order.client_order_id)
        if why is not None:
            raise OrderValidationError(why)
        venue_symbol = self._venue_symbol(order.symbol)
        cid = order.client_order_id
        if cid in self._sent:
            raise DuplicateOrderError(
                f"client order id {cid!r} was already sent to binance; it is not sent twice"
            )
        params: dict[str, str] = {
            "symbol": venue_symbol,
            "side": order.side.value.upper(),
            "type": order.type.value,
            "quantity": format_param(order.qty),
            "newClientOrderId": cid,
            "newOrderRespType": "RESULT",
        }
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            params["timeInForce"] = order.time_in_force.value
            params["price"] = format_param(order.price)
        http, _ = self._require()
        self._sent[cid] = None
        while len(self._sent) > _SENT_IDS_KEPT:
            self._sent.popitem(last=False)
        self.tracker.track(order.symbol, cid)
        try:
            body = await self._send_order(http, params)
        except BinanceRejectedError as exc:
            if exc.reason == "unknown_outcome":
                raise OrderOutcomeUnknownError(
                    f"{exc} (query client order id {cid!r}, never resend)", venue="binance"
                ) from exc
            self.tracker.forget(cid)
            raise
        except (RateLimitedError, AuthenticationError):
            self.tracker.forget(cid)  # refused before it reached the matching engine
            raise
        msg, report = self._answer(body, "new order")
        return SubmitAck(client_order_id=cid, venue_order_id=str(msg.orderId), report=report)

    async def _send_order(self, http: VenueHttp, params: dict[str, str]) -> bytes:
        try:
            body: bytes = await http.request(NEW_ORDER, params=params, raw=True)
        except BinanceRejectedError as exc:
            if exc.reason != "timestamp":
                raise
            # -1021 means the venue refused the request unseen: safe to send once more
            # after aligning the clock.
            await self.sync_time()
            body = await http.request(NEW_ORDER, params=params, raw=True)
        return body

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        """Cancel by client order id; the venue's answer as a CANCELLED report."""
        http, _ = self._require()
        params = {
            "symbol": self._venue_symbol(request.symbol),
            "origClientOrderId": request.client_order_id,
        }
        body: bytes = await http.request(CANCEL_ORDER, params=params, raw=True)
        return self._answer(body, "cancel")[1]

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        """The order's state on the venue, or None when the venue does not know it (-2013)."""
        http, _ = self._require()
        params = {"symbol": self._venue_symbol(symbol), "origClientOrderId": client_order_id}
        try:
            body: bytes = await http.request(QUERY_ORDER, params=params, raw=True)
        except BinanceRejectedError as exc:
            if exc.reason == "unknown_order":
                return None
            raise
        return self._answer(body, "query")[1]

    async def recover(self) -> list[ExecReport]:
        """Reports of tracked orders not known to be final, as the venue has them now."""
        out: list[ExecReport] = []
        for symbol, cid in self.tracker.open_orders():
            try:
                report = await self.query(Symbol(symbol), cid)
            except SchemaError:
                continue  # a malformed answer (counted): the next recovery asks again
            if report is not None:
                out.append(report)
        return out

    # -- helpers -------------------------------------------------------------------------
    def _answer(self, body: bytes, what: str) -> tuple[BinanceOrderMsg, ExecReport | None]:
        """An order answer and its report; a malformed one is counted as rejected and raised.

        The same checks as the user stream's execution reports (non-finite, negative or
        non-ASCII amounts, unknown symbol): the caller then treats the outcome as unknown.
        """
        try:
            msg = decode_order(body)
            return msg, self._parser.order_report(msg, self._clock.monotonic_ns())
        except SchemaError as exc:
            reason = exc.reason if isinstance(exc, FrameRejected) else "schema"
            self._reject(reason, detail=f"{what} answer: {exc}")
            raise

    def _require(self) -> tuple[VenueHttp, BinanceRestSigner]:
        if self._http is None or self._rest_signer is None:
            raise VenueConnectionError(
                "binance order adapter is not running (start run() first)", venue="binance"
            )
        return self._http, self._rest_signer

    def _venue_symbol(self, symbol: str) -> str:
        try:
            return self._symbols.instrument(symbol).venue_symbol
        except ControlError as exc:
            raise OrderValidationError(str(exc)) from exc
