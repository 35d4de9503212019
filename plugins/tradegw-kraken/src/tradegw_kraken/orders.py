"""The Kraken order adapter: REST orders, WebSocket v2 ``executions`` reports.

Why REST for requests (and not WS ``add_order``): each submission gets its own HTTP
answer, so a lost answer is an unknown outcome for that one order only (a dropped
socket would make every in-flight WS request unknown at once); API-Sign has a documented
vector to prove the signing; and the emulator verifies it. Reports come from the
authenticated ``executions`` channel (a fresh token per connection, ``snap_orders``).

Exactly once: a client order id is sent at most once per adapter lifetime (a second
``submit`` raises ``DuplicateOrderError`` before anything leaves), a lost answer raises
``OrderOutcomeUnknownError`` and is resolved with :meth:`KrakenOrderAdapter.query`
(``OpenOrders`` / ``ClosedOrders`` filtered by ``cl_ord_id``). After a reconnect or a gap
in the channel's ``sequence`` the orders still believed open are queried and what they
missed is reported.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio
import httpx
import msgspec
from anyio.abc import TaskStatus

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import (
    AuthenticationError,
    ConfigError,
    DuplicateOrderError,
    OrderValidationError,
    RejectedFrameError,
    SchemaError,
    VenueConnectionError,
    VenueError,
)
from tradegw_core.net.http import VenueHttp, make_async_client
from tradegw_core.net.ws import WsClient, WsConnection
from tradegw_core.schema.events import EventType, ExecReport, ExecState, Side, make_event_id
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderType, TimeInForce
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_kraken.config import KrakenSettings, reconnect_backoff
from tradegw_kraken.executions import KrakenExecutionMapper, check_rest_order
from tradegw_kraken.http import (
    ADD_ORDER,
    ASSET_PAIRS,
    CANCEL_ORDER,
    CLOSED_ORDERS,
    OPEN_ORDERS,
    WS_TOKEN,
    KrakenSigner,
    rest_error_mapper,
)
from tradegw_kraken.parsing import KrakenDecoders
from tradegw_kraken.schemas import KrakenExecutionMsg, KrakenRestOrderMsg
from tradegw_kraken.signing import NonceSource
from tradegw_kraken.symbols import KrakenSymbolMap, decode_asset_pairs, pairs_from_asset_pairs
from tradegw_kraken.wsrequests import PendingRequests

__all__ = ["KrakenOrderAdapter", "validate_cl_ord_id"]

_LONG_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SHORT_UUID = re.compile(r"[0-9a-fA-F]{32}")
_ZERO = Decimal(0)
_REST_FINAL = {"closed": "filled", "canceled": "canceled", "expired": "expired"}


def validate_cl_ord_id(value: str) -> str | None:
    """None when ``value`` is a Kraken ``cl_ord_id`` (UUID, 32 hex, or <= 18 ASCII), else why."""
    if _LONG_UUID.fullmatch(value) or _SHORT_UUID.fullmatch(value):
        return None
    if not value or len(value) > 18:
        return (
            f"Kraken cl_ord_id {value!r} must be a UUID (36 chars with dashes), 32 hex digits, "
            "or free text of 1 to 18 ASCII characters"
        )
    if not all(33 <= ord(ch) < 127 for ch in value):
        return f"Kraken cl_ord_id {value!r} may only hold printable ASCII without spaces"
    return None


class KrakenOrderAdapter:
    """Kraken orders; implements ``tradegw_core.contracts_orders.OrderAdapter``."""

    def __init__(
        self,
        settings: KrakenSettings,
        *,
        clock: Clock,
        telemetry: Telemetry | None = None,
        provider: str = "kraken",
        transport: Any = None,
        ws_options: Mapping[str, Any] | None = None,
        max_remembered: int = 100_000,
        reject_frame: Callable[..., None] | None = None,
    ) -> None:
        self._settings = settings
        self._reject_frame = reject_frame
        self._clock = clock
        self._telemetry = telemetry
        self._name = provider
        self._transport = transport
        self._ws_options = dict(ws_options or {})
        self._symbols = KrakenSymbolMap(())
        self._mapper = KrakenExecutionMapper(provider, self._canonical)
        self._decoders = KrakenDecoders()
        self._requests = PendingRequests(limit=8)
        # overflow policy ``evict_oldest``: ids older than the newest max_remembered are
        # left to the core's journal
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._max_remembered = max_remembered
        self._http: VenueHttp | None = None
        self._emit: Callable[[ExecReport], None] | None = None
        self._reconcile_wanted: anyio.Event | None = None

    @classmethod
    def from_context(cls, ctx: Any) -> KrakenOrderAdapter:
        """Build from an ``OrderAdapterContext``."""
        return cls(
            ctx.settings or KrakenSettings(),
            clock=ctx.clock,
            telemetry=ctx.telemetry,
            provider=ctx.provider_id,
            reject_frame=ctx.reject_frame,
        )

    # ------------------------------------------------------------------ lifecycle
    async def run(
        self, emit: Callable[[ExecReport], None], *, task_status: TaskStatus[None]
    ) -> None:
        """Load pairs, subscribe ``executions`` and report until cancelled."""
        s = self._settings
        creds = s.credentials()
        if creds is None:
            # A setting, not a venue refusal: the gateway disables trading for this
            # provider once instead of retrying an adapter that can never log in.
            raise ConfigError(
                "Kraken orders need providers.kraken.api_key and providers.kraken.api_secret"
            )
        signer = KrakenSigner(creds[0], creds[1], NonceSource(self._clock))
        client = make_async_client(
            s.rest_url, transport=self._transport, timeout=httpx.Timeout(s.request_timeout_s)
        )
        try:
            async with client, anyio.create_task_group() as tg:
                self._http = VenueHttp(
                    client, venue=self._name, error_mapper=rest_error_mapper, signer=signer
                )
                body = await self._http.request(ASSET_PAIRS)
                pairs = decode_asset_pairs(msgspec.json.encode(body))
                self._symbols = KrakenSymbolMap(pairs_from_asset_pairs(pairs, self._name))
                self._emit = emit
                self._reconcile_wanted = anyio.Event()
                ws = WsClient(
                    s.ws_auth_url,
                    on_frame=self._on_frame,
                    on_connect=self._on_connect,
                    name=f"{self._name}-exec",
                    on_reject=self._reject_frame,
                    telemetry=self._telemetry,
                    stale_after_s=s.heartbeat_timeout_s,
                    app_ping=lambda: {"method": "ping"},
                    backoff=reconnect_backoff(s),
                    app_ping_interval_s=max(1.0, s.heartbeat_timeout_s / 2),
                    **self._ws_options,
                )
                await tg.start(ws.run)
                task_status.started()
                while True:
                    await self._reconcile_wanted.wait()
                    self._reconcile_wanted = anyio.Event()
                    await self._reconcile()
        except BaseExceptionGroup as group:
            raise _single(group) from None

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Pairs the order path validates against."""
        return self._symbols.instruments()

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        """None when Kraken accepts the id's format, else why not."""
        return validate_cl_ord_id(client_order_id)

    # ------------------------------------------------------------------ requests
    async def submit(self, order: OrderRequest) -> SubmitAck:
        """``AddOrder`` once; DuplicateOrderError when this id was sent before."""
        cl = order.client_order_id
        problem = self.validate_client_order_id(cl)
        if problem is not None:
            raise OrderValidationError(problem)
        if cl in self._sent:
            raise DuplicateOrderError(
                f"client_order_id {cl!r} was already sent to Kraken; it is not sent twice"
            )
        pair = self._pair_name(order.symbol)
        params: dict[str, str] = {
            "ordertype": order.type.value.lower(),
            "type": order.side.value,
            "volume": str(order.qty),
            "pair": pair,
            "cl_ord_id": cl,
        }
        if order.type is OrderType.LIMIT and order.price is not None:
            params["price"] = str(order.price)
        if order.time_in_force is TimeInForce.IOC:
            params["timeinforce"] = "IOC"
        elif order.time_in_force is TimeInForce.FOK:
            raise OrderValidationError("Kraken spot has no fill-or-kill time in force")
        self._remember(cl)  # before sending: an unknown outcome counts as sent
        body = await self._require_http().request(ADD_ORDER, params=params)
        txids = (body.get("result") or {}).get("txid") or []
        txid = str(txids[0]) if txids else None
        if txid is not None:
            self._mapper.register(
                txid, cl, symbol=order.symbol, side=order.side, order_qty=order.qty,
                price=order.price,
            )  # fmt: skip
        return SubmitAck(client_order_id=cl, venue_order_id=txid)

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        """``CancelOrder`` by cl_ord_id; the CANCELLED report follows on ``executions``."""
        await self._require_http().request(
            CANCEL_ORDER, params={"cl_ord_id": request.client_order_id}
        )
        return None

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        """The order's state from ``OpenOrders`` / ``ClosedOrders``; None if Kraken never saw it."""
        http = self._require_http()
        for endpoint, key in ((OPEN_ORDERS, "open"), (CLOSED_ORDERS, "closed")):
            body = await http.request(endpoint, params={"cl_ord_id": client_order_id})
            found = ((body.get("result") or {}).get(key)) or {}
            for txid, info in found.items():
                try:
                    order = msgspec.convert(info, KrakenRestOrderMsg, strict=False)
                    check_rest_order(order)
                except (msgspec.ValidationError, RejectedFrameError) as exc:
                    raise VenueError(
                        f"Kraken answered a malformed order {str(txid)[:40]}: {exc}",
                        venue=self._name,
                    ) from None
                if (order.cl_ord_id or client_order_id) == client_order_id:
                    return self._rest_report(str(txid), order, symbol, client_order_id)
        return None

    # ------------------------------------------------------------------ executions
    async def _on_connect(self, conn: WsConnection) -> None:
        body = await self._require_http().request(WS_TOKEN)
        token = str(body["result"]["token"])
        req = self._requests.open(["executions"])
        params = {"channel": "executions", "token": token, "snap_orders": True,
                  "snap_trades": False, "order_status": True}  # fmt: skip
        try:
            await conn.send({"method": "subscribe", "params": params, "req_id": req.req_id})
            with anyio.fail_after(self._settings.request_timeout_s):
                await req.done.wait()
        except TimeoutError:
            raise VenueConnectionError("Kraken did not ack executions", venue=self._name) from None
        finally:
            self._requests.close(req)
        if req.errors:
            raise AuthenticationError(
                f"Kraken refused the executions subscription: {req.errors['executions']}",
                venue=self._name,
            )
        self._mapper.reset_sequence()
        if conn.number > 1 and self._reconcile_wanted is not None:
            self._reconcile_wanted.set()

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One frame of the private socket, in its reader task: total (never raises).

        An entry with a malformed value is rejected (``ctx.reject_frame`` when the context
        gave one, and ``frame.malformed``) and the open orders are reconciled over REST,
        so a fill it carried is not lost.
        """
        try:
            frame = self._decoders.decode_frame(data)
            if frame.method is not None:
                self._requests.on_answer(frame, None)
            elif frame.channel == "executions":
                if self._mapper.check_sequence(frame.sequence) and self._reconcile_wanted:
                    self._event("executions.gap", sequence=frame.sequence)
                    self._reconcile_wanted.set()
                for item in self._decoders.execution_data(frame):
                    try:
                        report = self._mapper.map(item, ts_ingest)
                    except (RejectedFrameError, SchemaError) as exc:
                        self._rejected(getattr(exc, "reason", "schema"), exc)
                        continue
                    if report is not None and self._emit is not None:
                        self._emit(report)
        except RejectedFrameError as exc:
            self._rejected(exc.reason, exc)
        except SchemaError as exc:
            self._rejected("schema", exc)
        except Exception as exc:  # a frame handler is total: never restart for a frame
            self._rejected("handler_error", exc)

    def _rejected(self, reason: str, exc: Exception) -> None:
        self._event("frame.malformed", reason=reason, error=str(exc)[:200])
        if self._reject_frame is not None:
            self._reject_frame(reason, detail=str(exc)[:200])
        if self._reconcile_wanted is not None:
            self._reconcile_wanted.set()

    async def _reconcile(self) -> None:
        """Query every order still believed open; report finals that were missed."""
        for order_id, cl, symbol in self._mapper.open_orders():
            if not cl:
                continue
            try:
                report = await self.query(Symbol(symbol), cl)
            except VenueError as exc:
                self._event("orders.reconcile_failed", error=str(exc)[:200])
                continue
            if report is None or not report.state.is_final:
                continue
            word = {ExecState.FILLED: "filled", ExecState.CANCELLED: "canceled"}.get(
                report.state, "expired"
            )
            missed = KrakenExecutionMsg(
                exec_type=word, order_status=word, order_id=order_id, cl_ord_id=cl,
                cum_qty=report.cum_qty, avg_price=report.avg_price,
            )  # fmt: skip
            out = self._mapper.map(missed, self._clock.monotonic_ns())
            if out is not None and self._emit is not None:
                self._emit(out)

    # ------------------------------------------------------------------ helpers
    def _rest_report(
        self, txid: str, order: KrakenRestOrderMsg, symbol: Symbol, cl: str
    ) -> ExecReport:
        if order.status in _REST_FINAL:
            word = _REST_FINAL[order.status]
            state = {"filled": ExecState.FILLED, "canceled": ExecState.CANCELLED}.get(
                word, ExecState.EXPIRED
            )
        else:
            state = ExecState.PARTIAL if order.vol_exec > 0 else ExecState.ACK
        side = Side(order.descr.type) if order.descr.type in ("buy", "sell") else None
        leaves = order.vol - order.vol_exec if not state.is_final else _ZERO
        key = f"{txid}:query:{order.status}:{order.vol_exec}"
        return ExecReport(
            event_id=make_event_id(self._name, symbol, EventType.EXEC_REPORT, key),
            provider=self._name,
            symbol=symbol,
            venue_symbol=order.descr.pair or "",
            ts_ingest=self._clock.monotonic_ns(),
            client_order_id=cl,
            venue_order_id=txid,
            state=state,
            side=side,
            order_qty=order.vol,
            price=order.descr.price or None,
            cum_qty=order.vol_exec,
            leaves_qty=leaves,
            avg_price=order.price or None,
            fee=order.fee or _ZERO,
            reason=order.reason or "",
            venue_status=f"rest/{order.status}",
        )

    def _pair_name(self, symbol: str) -> str:
        try:
            return self._symbols.rest_name(Symbol(symbol))
        except SchemaError as exc:
            raise OrderValidationError(f"Kraken has no pair {symbol!r}") from exc

    def _canonical(self, venue_symbol: str) -> str:
        try:
            return self._symbols.to_canonical(venue_symbol)
        except SchemaError:
            return venue_symbol.replace("/", "-")

    def _remember(self, cl: str) -> None:
        self._sent[cl] = None
        while len(self._sent) > self._max_remembered:
            self._sent.popitem(last=False)

    def _require_http(self) -> VenueHttp:
        if self._http is None:
            raise VenueConnectionError("the Kraken order adapter is not running", venue=self._name)
        return self._http

    def _event(self, name: str, **labels: Any) -> None:
        if self._telemetry is not None:
            self._telemetry.emit(name, provider=self._name, **labels)


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """A lone error out of the task group, as itself (else the group)."""
    if len(group.exceptions) == 1:
        return group.exceptions[0]
    return group
