"""The Coinbase order adapter (``OrderAdapter`` of ``tradegw_core.contracts_orders``).

* ``submit``: ``POST /orders`` with a fresh JWT. A ``client_order_id`` is sent at most once
  per adapter: a repeat returns the first answer (or its error) without any request. The
  venue itself returns the existing order for a reused id (protocol notes 4.3); its answer
  is checked against the intent. A lost answer raises ``OrderOutcomeUnknownError``: the
  caller resolves it with ``query``, never by resending.
* ``cancel``/``query``: the venue knows orders by its own id only and has no lookup by
  client id, so ids are kept from create answers and the ``user`` channel; an unknown one
  is searched in recent orders (``/orders/historical/batch``, paged, bounded).
* ``run``: the ``user`` channel (with ``heartbeats``) -> ExecReports in venue order, through
  :class:`~tradegw_coinbase.reports.UserOrderTracker`. After a reconnect or a sequence gap
  the unfinished orders are re-read over REST and what was missed is emitted, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
import httpx
import msgspec
from anyio.abc import TaskStatus

from tradegw_coinbase.book import ConnectionSequence, SeqVerdict, stream_seq
from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.errors import VENUE, is_duplicate_failure, map_order_failure, map_ws_error
from tradegw_coinbase.http import (
    BATCH_CANCEL,
    CREATE_ORDER,
    GET_ORDER,
    LIST_ORDERS,
    JwtSigner,
    load_instruments,
    make_http,
    order_body,
)
from tradegw_coinbase.order_memory import OrderMemory, SentOrder
from tradegw_coinbase.parsing import decode_frame, format_time
from tradegw_coinbase.reports import (
    UserOrderTracker,
    report_from_rest_order,
    user_order_from_rest,
)
from tradegw_coinbase.schemas import CoinbaseOrderMsg, CoinbaseOtherMsg, CoinbaseUserMsg
from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import (
    OrderNotSentError,
    OrderOutcomeUnknownError,
    RejectedFrameError,
    SchemaError,
    VenueError,
    VenueRejectedError,
)
from tradegw_core.net.ws import WsClient, WsConnection
from tradegw_core.schema.events import ExecReport
from tradegw_core.schema.orders import CancelRequest, OrderRequest
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["CoinbaseOrderAdapter"]

_MAX_REMEMBERED = 50_000
_MAX_SEARCH_PAGES = 10


class CoinbaseOrderAdapter:
    """Orders and execution reports on Coinbase Advanced Trade (module docstring)."""

    def __init__(
        self,
        settings: CoinbaseSettings,
        *,
        provider: str = VENUE,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ws_options: Mapping[str, Any] | None = None,
        reject_frame: Callable[..., None] | None = None,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self._reject_frame = reject_frame
        self.clock: Clock = clock or SystemClock()
        self.telemetry = telemetry
        self.signer = JwtSigner.from_settings(settings, self.clock)
        self._transport = transport
        self._client, self.http = make_http(
            settings, signer=self.signer, transport=transport, clock=self.clock
        )
        self._ws_options = dict(ws_options or {})
        self._instruments: dict[Symbol, Instrument] = {}
        self._memory = OrderMemory(_MAX_REMEMBERED)
        self.tracker = UserOrderTracker(provider=provider)
        self._epochs = 0
        self._seq = ConnectionSequence(self._next_epoch)
        self._emit: Callable[[ExecReport], None] | None = None
        self._catch_up: anyio.Event | None = None
        self.requests_sent = 0
        self.ws_errors: list[VenueError] = []

    @classmethod
    def from_context(cls, ctx: Any) -> CoinbaseOrderAdapter:
        """Build from an ``OrderAdapterContext``."""
        settings = ctx.settings if ctx.settings is not None else CoinbaseSettings()
        return cls(
            settings,
            provider=ctx.provider_id,
            clock=ctx.clock,
            telemetry=ctx.telemetry,
            reject_frame=ctx.reject_frame,
        )

    def _next_epoch(self) -> int:
        self._epochs += 1
        return self._epochs

    async def __aenter__(self) -> CoinbaseOrderAdapter:
        if self._client.is_closed:  # a supervisor restarting run(): a fresh client
            self._client, self.http = make_http(
                self.settings, signer=self.signer, transport=self._transport, clock=self.clock
            )
        await self._client.__aenter__()
        return self

    def _require_client(self) -> None:
        if self._client.is_closed:
            raise OrderNotSentError(
                "the Coinbase order adapter is not running (its HTTP client is closed)",
                venue=VENUE,
            )

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(*exc)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ contract
    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable pairs (loaded by ``run`` or :meth:`load`)."""
        return self._instruments

    async def load(self) -> None:
        """Load instruments from the products endpoint."""
        self._instruments = await load_instruments(self.http, self.settings, self.provider)

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        """Coinbase takes any non-empty id (the SDK uses UUIDs); no spaces or controls."""
        if not client_order_id:
            return "client_order_id must not be empty"
        if any(ch.isspace() or not ch.isprintable() for ch in client_order_id):
            return "client_order_id must be printable without spaces"
        return None

    def _product(self, symbol: str) -> str:
        inst = self._instruments.get(Symbol(symbol))
        return inst.venue_symbol if inst is not None else symbol

    async def submit(self, order: OrderRequest) -> SubmitAck:
        """Send a new order once; a repeated client order id is answered without sending."""
        self._require_client()
        coid = order.client_order_id
        seen = self._memory.submissions.get(coid)
        if seen is not None:
            self._tele("order.duplicate", client_order_id=coid)
            if seen.ack is not None:
                return seen.ack
            if seen.error is not None:
                raise seen.error
            raise OrderOutcomeUnknownError(
                f"client_order_id {coid!r} was sent and its outcome is unknown: query it",
                venue=VENUE,
            )
        sub = SentOrder(order, order_body(order, self._product(order.symbol)))
        self._memory.remember(coid, sub)
        try:
            self.requests_sent += 1
            data = await self.http.request(CREATE_ORDER, json=sub.body)
        except OrderOutcomeUnknownError:
            sub.unknown = True
            raise
        except VenueError as exc:
            sub.error = exc
            raise
        if isinstance(data, dict) and data.get("success"):
            answer = data.get("success_response") or {}
            if answer.get("product_id", sub.body["product_id"]) != sub.body["product_id"] or (
                answer.get("side", sub.body["side"]) != sub.body["side"]
            ):
                sub.error = VenueRejectedError(
                    f"client_order_id {coid!r} already names a different order on Coinbase "
                    f"({answer.get('side')} {answer.get('product_id')})",
                    venue=VENUE,
                    code="CLIENT_ORDER_ID_REUSED",
                )
                raise sub.error
            venue_id = str(answer.get("order_id") or "")
            self._memory.venue_ids[coid] = venue_id
            sub.venue_order_id = venue_id
            sub.ack = SubmitAck(client_order_id=coid, venue_order_id=venue_id or None)
            return sub.ack
        if isinstance(data, dict) and is_duplicate_failure(data):
            report = await self.query(Symbol(order.symbol), coid)
            if report is None:
                sub.unknown = True
                raise OrderOutcomeUnknownError(
                    f"Coinbase says {coid!r} exists but it was not found: query again", venue=VENUE
                )
            sub.venue_order_id = report.venue_order_id
            sub.ack = SubmitAck(client_order_id=coid, venue_order_id=report.venue_order_id)
            return sub.ack
        sub.error = map_order_failure(data if isinstance(data, dict) else {})
        raise sub.error

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        """Cancel by client order id (the venue's id is looked up); None: the report follows
        on the ``user`` channel."""
        self._require_client()
        venue_id = await self._venue_order_id(Symbol(request.symbol), request.client_order_id)
        if venue_id is None:
            raise VenueRejectedError(
                f"no Coinbase order with client_order_id {request.client_order_id!r}",
                venue=VENUE,
                code="UNKNOWN_CANCEL_ORDER",
            )
        data = await self.http.request(BATCH_CANCEL, json={"order_ids": [venue_id]})
        results = data.get("results") if isinstance(data, dict) else None
        first = results[0] if isinstance(results, list) and results else {}
        if not first.get("success"):
            reason = str(first.get("failure_reason") or "UNKNOWN_CANCEL_FAILURE_REASON")
            raise VenueRejectedError(
                f"Coinbase refused the cancel: {reason}", venue=VENUE, code=reason
            )
        return None

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        """The order's state on the venue, or None when the venue never saw it."""
        self._require_client()
        venue_id = self._memory.venue_ids.get(client_order_id)
        if venue_id is not None:
            try:
                data = await self.http.request(GET_ORDER, path_params={"order_id": venue_id})
            except VenueRejectedError as exc:
                if exc.code in (404, "NOT_FOUND"):
                    return None
                raise
            order = msgspec.convert(data["order"], CoinbaseOrderMsg, strict=False)
        else:
            found = await self._search(symbol, client_order_id)
            if found is None:
                return None
            order = found
            self._memory.venue_ids[client_order_id] = order.order_id
        try:
            return report_from_rest_order(order, provider=self.provider)
        except RejectedFrameError as exc:
            raise VenueError(
                f"Coinbase answered a malformed order: {exc}", venue="coinbase"
            ) from None

    async def _venue_order_id(self, symbol: Symbol, coid: str) -> str | None:
        known = self._memory.venue_ids.get(coid)
        if known is not None:
            return known
        found = await self._search(symbol, coid)
        if found is None:
            return None
        self._memory.venue_ids[coid] = found.order_id
        return found.order_id

    async def _search(self, symbol: Symbol, coid: str) -> CoinbaseOrderMsg | None:
        """Recent orders of the product, newest first, matched on client order id."""
        start = self.clock.time_ns() - int(self.settings.order_lookback_s * 1e9)
        params: dict[str, Any] = {
            "product_ids": self._product(symbol),
            "start_date": format_time(start).split(".")[0] + "Z",
            "limit": 100,
        }
        for _ in range(_MAX_SEARCH_PAGES):
            data = await self.http.request(LIST_ORDERS, params=params)
            for row in data.get("orders") or []:
                if row.get("client_order_id") == coid:
                    return msgspec.convert(row, CoinbaseOrderMsg, strict=False)
            if not data.get("has_next") or not data.get("cursor"):
                return None
            params["cursor"] = data["cursor"]
        return None

    # ------------------------------------------------------------------ user stream
    async def run(
        self, emit: Callable[[ExecReport], None], *, task_status: TaskStatus[None]
    ) -> None:
        """Run the ``user`` channel until cancelled, emitting ExecReports in order.

        Without credentials (market data only) it idles: orders then fail with a clear
        ``AuthenticationError`` instead of the adapter failing over and over.
        """
        if self.signer is None:
            self._tele("coinbase.orders_disabled", reason="no api_key_name/api_private_key")
            task_status.started()
            await anyio.sleep_forever()
        self._emit = emit
        async with self:
            await self.load()
            ws = WsClient(
                self.settings.ws_user_url,
                on_frame=self._on_frame,
                on_connect=self._on_connect,
                name=f"{self.provider}-user",
                on_reject=self._reject_frame,
                telemetry=self.telemetry,
                clock=self.clock,
                stale_after_s=self.settings.heartbeat_timeout_s,
                **self._ws_options,
            )
            self._catch_up = anyio.Event()
            async with anyio.create_task_group() as tg:
                await tg.start(ws.run)
                task_status.started()
                while True:
                    await self._catch_up.wait()
                    self._catch_up = anyio.Event()
                    await self.catch_up()

    async def _on_connect(self, conn: WsConnection) -> None:
        assert self.signer is not None
        self._seq.restart()
        heartbeats = {"type": "subscribe", "channel": "heartbeats", "jwt": self.signer.token()}
        await conn.send(heartbeats)
        await conn.send(
            {"type": "subscribe", "channel": "user", "product_ids": [], "jwt": self.signer.token()}
        )
        if conn.number > 1:
            self._request_catch_up()

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One frame of the user socket, in its reader task: total (never raises).

        A frame that cannot be used is rejected (``ctx.reject_frame`` when the context gave
        one, and ``coinbase.bad_frame``) and the open orders are caught up over REST: the
        frame may have carried an order update, and REST tells the truth instead of a guess.
        """
        try:
            msg = decode_frame(data)
            if isinstance(msg, CoinbaseOtherMsg) and msg.is_error:
                self.ws_errors = [*self.ws_errors[-19:], map_ws_error(msg.message)]
                self._tele("coinbase.user_error", error=msg.message[:200])
                return
            seq_num = msg.sequence_num
            if seq_num is None:
                return
            verdict = self._seq.observe(seq_num)
            if verdict is SeqVerdict.STALE:
                return
            if verdict is SeqVerdict.GAP:
                self._tele("coinbase.sequence_gap", stream="user", gap=str(self._seq.last_gap))
                self._request_catch_up()
            if isinstance(msg, CoinbaseUserMsg):
                seq = stream_seq(self._seq.epoch, seq_num)
                self._deliver(self.tracker.on_message(msg, ts_ingest=ts_ingest, seq=seq))
        except (SchemaError, RejectedFrameError) as exc:
            self._rejected(getattr(exc, "reason", "schema"), exc)
        except Exception as exc:  # a frame handler is total: never restart for a frame
            self._rejected("handler_error", exc)

    def _rejected(self, reason: str, exc: Exception) -> None:
        self._tele("coinbase.bad_frame", reason=reason, detail=str(exc)[:200])
        if self._reject_frame is not None:
            self._reject_frame(reason, detail=str(exc)[:200])
        self._request_catch_up()

    def _deliver(self, reports: list[ExecReport]) -> None:
        for report in reports:
            if report.venue_order_id and report.client_order_id:
                self._memory.venue_ids.setdefault(report.client_order_id, report.venue_order_id)
            sub = self._memory.submissions.get(report.client_order_id)
            if sub is not None:
                report.consumer_id = sub.request.consumer_id
                report.decision_id = sub.request.decision_id
            if self._emit is not None:
                self._emit(report)

    def _request_catch_up(self) -> None:
        if self._catch_up is not None:
            self._catch_up.set()

    async def catch_up(self) -> None:
        """Re-read every unfinished order over REST and emit what the stream missed."""
        unseen = [v for v in self._memory.venue_ids.values() if v and self.tracker.known(v) is None]
        for venue_id in dict.fromkeys([*self.tracker.unfinished(), *unseen]):
            try:
                data = await self.http.request(GET_ORDER, path_params={"order_id": venue_id})
            except VenueError as exc:
                self._tele("coinbase.catch_up_failed", order_id=venue_id, error=str(exc)[:200])
                continue
            try:
                order = msgspec.convert(data["order"], CoinbaseOrderMsg, strict=False)
                reports = self.tracker.on_order(user_order_from_rest(order))
            except (msgspec.ValidationError, RejectedFrameError, KeyError, TypeError) as exc:
                self._tele("coinbase.catch_up_failed", order_id=venue_id, error=str(exc)[:200])
                continue
            self._deliver(reports)

    def _tele(self, name: str, **labels: Any) -> None:
        if self.telemetry is not None:
            self.telemetry.emit(name, provider=self.provider, **labels)
