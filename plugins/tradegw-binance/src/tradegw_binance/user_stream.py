"""The user data stream over the WebSocket API, and the per-order report filter.

listenKey streams are gone (binance.md section 5.1): on a WebSocket API connection the
adapter sends ``userDataStream.subscribe.signature`` (any key type, no logon) and receives
``{"subscriptionId": n, "event": {...}}`` frames. :class:`UserStream` plugs into the core's
``WsClient``: ``on_connect`` subscribes (and after a reconnect asks the adapter to recover
what was missed), ``on_frame`` turns ``executionReport`` events into ExecReports.

:class:`OrderTracker` (sans-I/O) makes the output per order strictly forward-moving: a
report is emitted only when it raises the cumulative quantity or advances the state
(ACK < PARTIAL < final), and an execution id (``i``, ``I``) is emitted once. This is what
lets stream reports and REST recovery reports mix without duplicates or regressions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import anyio
import msgspec

from tradegw_binance.decoding import decode_execution_report
from tradegw_binance.errors import error_from_code
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.schemas import BinanceEventHeader, BinanceWsApiFrame
from tradegw_binance.signing import RequestSigner, sign_ws_params
from tradegw_binance.values import FrameRejected
from tradegw_core.contracts import Telemetry
from tradegw_core.errors import SchemaError, VenueConnectionError
from tradegw_core.observability.rejects import FrameRejects, RejectHandler
from tradegw_core.schema.events import ExecReport, ExecState

__all__ = ["OrderTracker", "UserStream"]

_RANK = {ExecState.ACK: 0, ExecState.PARTIAL: 1}
_frame_decoder = msgspec.json.Decoder(BinanceWsApiFrame)
_header_decoder = msgspec.json.Decoder(BinanceEventHeader)


def _rank(state: ExecState) -> int:
    return _RANK.get(state, 2)


class OrderTracker:
    """Last emitted report per client order id (bounded: oldest finished orders go first)."""

    def __init__(self, max_orders: int = 10_000, max_exec_ids: int = 50_000) -> None:
        self._last: OrderedDict[str, ExecReport] = OrderedDict()
        self._symbols: dict[str, str] = {}
        self._exec_ids: OrderedDict[str, None] = OrderedDict()
        self._max_orders = max_orders
        self._max_exec_ids = max_exec_ids

    def track(self, symbol: str, client_order_id: str) -> None:
        """Remember an order we sent (so a reconnect knows what to query)."""
        self._symbols[client_order_id] = symbol
        self._evict()

    def forget(self, client_order_id: str) -> None:
        """Stop tracking an order the venue refused (nothing to recover for it)."""
        self._symbols.pop(client_order_id, None)
        self._last.pop(client_order_id, None)

    def last(self, client_order_id: str) -> ExecReport | None:
        """The last report emitted for the order."""
        return self._last.get(client_order_id)

    def open_orders(self) -> list[tuple[str, str]]:
        """(symbol, client order id) of tracked orders not known to be final, oldest first."""
        out = []
        for cid, symbol in self._symbols.items():
            rep = self._last.get(cid)
            if rep is None or not rep.state.is_final:
                out.append((symbol, cid))
        return out

    def accept(self, report: ExecReport, *, recovered: bool = False) -> ExecReport | None:
        """The report to emit, or None when it does not move its order forward.

        A report whose cumulative quantity jumps past fills never reported (a REST
        ``recovered`` one, or a stream one after a lost frame) carries the missed quantity
        as its fill, priced from the change in cumulative quote quantity.
        """
        if report.event_id in self._exec_ids:
            return None
        cid = report.client_order_id
        prev = self._last.get(cid)
        if prev is not None:
            if prev.state.is_final:
                return None
            if report.cum_qty < prev.cum_qty:
                return None
            if report.cum_qty == prev.cum_qty and _rank(report.state) <= _rank(prev.state):
                return None
            report = _with_missed_fill(report, prev)
        elif recovered:
            report = _with_missed_fill(report, None)
        self._exec_ids[report.event_id] = None
        while len(self._exec_ids) > self._max_exec_ids:
            self._exec_ids.popitem(last=False)
        self._last[cid] = report
        self._last.move_to_end(cid)
        self._symbols.setdefault(cid, report.symbol)
        self._evict()
        return report

    def _evict(self) -> None:
        while len(self._symbols) > self._max_orders:
            cid = next(iter(self._symbols))
            self._symbols.pop(cid)
            self._last.pop(cid, None)
        while len(self._last) > self._max_orders:
            self._last.popitem(last=False)


def _with_missed_fill(report: ExecReport, prev: ExecReport | None) -> ExecReport:
    """A report whose cumulative quantity jumps past unreported fills carries them too.

    Keeps ``sum(last_qty) == cum_qty`` per order; the fill price is then the average of
    what was missed plus this fill, from the change in cumulative quote quantity.
    """
    prev_cum = prev.cum_qty if prev is not None else Decimal(0)
    filled = report.cum_qty - prev_cum
    if filled <= report.last_qty:
        return report
    prev_quote = (prev.avg_price or Decimal(0)) * prev_cum if prev is not None else Decimal(0)
    quote = (report.avg_price or Decimal(0)) * report.cum_qty
    price = (quote - prev_quote) / filled if quote > 0 else report.last_price
    return msgspec.structs.replace(report, last_qty=filled, last_price=price)


class UserStream:
    """``WsClient`` callbacks for the WebSocket API user data stream.

    ``recover`` is awaited after every re-subscription (not the first): it queries the
    venue for orders that changed while the stream was down and returns their reports.
    """

    def __init__(
        self,
        parser: BinanceParser,
        tracker: OrderTracker,
        *,
        api_key: str,
        signer: RequestSigner,
        timestamp_ms: Callable[[], int],
        emit: Callable[[ExecReport], None],
        recover: Callable[[], Awaitable[list[ExecReport]]],
        now_ns: Callable[[], int],
        telemetry: Telemetry | None = None,
        reject: RejectHandler | None = None,
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._parser = parser
        self._reject: RejectHandler = (
            reject if reject is not None else FrameRejects(f"{parser.provider_id}-user").reject
        )
        self._tracker = tracker
        self._api_key = api_key
        self._signer = signer
        self._timestamp_ms = timestamp_ms
        self._emit = emit
        self._recover = recover
        self._now_ns = now_ns
        self._telemetry = telemetry
        self._ack_timeout_s = ack_timeout_s
        self._pending: dict[str, tuple[anyio.Event, list[BinanceWsApiFrame]]] = {}
        self.subscribed = anyio.Event()
        self.on_rollover: Callable[[], None] | None = None
        """Set by the owner: asks the WsClient for a new socket (server shutdown)."""

    async def on_connect(self, conn: Any) -> None:
        """Subscribe on a fresh socket; after a reconnect, emit what was missed."""
        req_id = f"uds-{conn.number}"
        params = sign_ws_params({"timestamp": self._timestamp_ms()}, self._signer, self._api_key)
        event = anyio.Event()
        slot: list[BinanceWsApiFrame] = []
        self._pending[req_id] = (event, slot)
        try:
            await conn.send(
                {"id": req_id, "method": "userDataStream.subscribe.signature", "params": params}
            )
            with anyio.fail_after(self._ack_timeout_s):
                await event.wait()
        except TimeoutError as exc:
            raise VenueConnectionError(
                "binance user data stream: no answer to userDataStream.subscribe.signature",
                venue="binance",
            ) from exc
        finally:
            self._pending.pop(req_id, None)
        answer = slot[0]
        if answer.error is not None or answer.status != 200:
            err = answer.error
            raise error_from_code(
                err.code if err else 0,
                err.msg if err else f"status {answer.status}",
                http_status=answer.status,
            )
        if conn.number > 1:
            for report in await self._recover():
                self.deliver(report, recovered=True)
        self.subscribed.set()

    def deliver(self, report: ExecReport, *, recovered: bool = False) -> None:
        """Emit ``report`` if it moves its order forward."""
        accepted = self._tracker.accept(report, recovered=recovered)
        if accepted is not None:
            self._emit(accepted)

    def on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One WebSocket API frame (reader task, synchronous): never raises.

        A frame or event that does not fit, or an execution report with a malformed value
        (non-finite, negative, non-ASCII digits, past 8 decimals), an unknown symbol: is
        rejected (``reject``, i.e. ``ctx.reject_frame``) and the stream keeps reading.
        """
        try:
            frame = _frame_decoder.decode(data)
            if frame.id is not None and frame.status is not None:
                waiter = self._pending.get(str(frame.id))
                if waiter is not None:
                    waiter[1].append(frame)
                    waiter[0].set()
                return
            raw = bytes(frame.event)
            if not raw:
                self._reject("schema", detail="neither an answer nor a user-data event")
                return
            header = _header_decoder.decode(raw)
            if header.e == "executionReport":
                report = self._parser.execution_report(decode_execution_report(raw), ts_ingest)
                if report is not None:
                    self.deliver(report)
            elif header.e in ("serverShutdown", "eventStreamTerminated"):
                self._tele("binance.user_stream.rollover", reason=header.e)
                if self.on_rollover is not None:
                    self.on_rollover()
        except FrameRejected as exc:
            self._reject(exc.reason, detail=f"user data: {exc.detail}")
        except (msgspec.ValidationError, SchemaError) as exc:
            self._reject("schema", detail=f"user data: {exc}")
        except msgspec.DecodeError as exc:
            self._reject("decode", detail=f"user data: {exc}")
        except RecursionError:
            self._reject("too_deep", detail="user data: nested too deeply")

    def _tele(self, name: str, **labels: Any) -> None:
        if self._telemetry is not None:
            self._telemetry.emit(name, provider="binance", **labels)
