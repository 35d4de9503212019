"""Order adapter over signed REST (httpx.MockTransport venue) and the report filter."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tradegw_binance.config import BinanceSettings
from tradegw_binance.errors import BinanceRejectedError
from tradegw_binance.orders import BinanceOrderAdapter
from tradegw_binance.signing import verify_hmac
from tradegw_binance.user_stream import OrderTracker

from tradegw_core.clock import FakeClock
from tradegw_core.errors import (
    AuthenticationError,
    ConfigError,
    DuplicateOrderError,
    OrderOutcomeUnknownError,
    OrderValidationError,
    RateLimitedError,
    SchemaError,
)
from tradegw_core.schema.events import ExecReport, ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderType
from tradegw_core.schema.symbols import Symbol

D = Decimal
SECRET = "test-secret"
EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1,
    "rateLimits": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "quoteAsset": "USDT",
            "baseAssetPrecision": 8,
            "quoteAssetPrecision": 8,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01",
                    "maxPrice": "1000000",
                    "tickSize": "0.01",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001",
                    "maxQty": "9000",
                    "stepSize": "0.00001",
                },
                {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": True},
            ],
        }
    ],
}


class FakeVenue:
    """A scripted REST venue that verifies HMAC signatures like Binance does."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[httpx.Request] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.script: list[Callable[[httpx.Request], httpx.Response]] = []
        self.server_offset_ms = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v3/exchangeInfo":
            return httpx.Response(200, json=EXCHANGE_INFO)
        if path == "/api/v3/time":
            return httpx.Response(
                200, json={"serverTime": self.clock.time_ns() // 1_000_000 + self.server_offset_ms}
            )
        query = request.url.query.decode()
        unsigned, _, signature = query.rpartition("&signature=")
        assert request.headers["X-MBX-APIKEY"] == "key"
        if not verify_hmac(SECRET, unsigned, signature):
            return httpx.Response(
                400, json={"code": -1022, "msg": "Signature for this request is not valid."}
            )
        params = dict(parse_qsl(unsigned))
        assert params["recvWindow"] == "5000"
        now_ms = self.clock.time_ns() // 1_000_000 + self.server_offset_ms
        if abs(now_ms - int(params["timestamp"])) > 1000:
            return httpx.Response(
                400,
                json={
                    "code": -1021,
                    "msg": "Timestamp for this request is outside of the recvWindow.",
                },
            )
        if self.script:
            return self.script.pop(0)(request)
        cid = params.get("newClientOrderId") or params.get("origClientOrderId", "")
        if request.method == "POST":
            order = {
                "symbol": params["symbol"],
                "orderId": len(self.orders) + 1,
                "orderListId": -1,
                "clientOrderId": cid,
                "transactTime": now_ms,
                "price": params.get("price", "0"),
                "origQty": params["quantity"],
                "executedQty": "0",
                "cummulativeQuoteQty": "0",
                "status": "NEW",
                "timeInForce": params.get("timeInForce"),
                "type": params["type"],
                "side": params["side"],
            }
            self.orders[cid] = order
            return httpx.Response(200, json=order)
        if cid not in self.orders:
            return httpx.Response(400, json={"code": -2013, "msg": "Order does not exist."})
        order = self.orders[cid]
        if request.method == "DELETE":
            order["status"] = "CANCELED"
            return httpx.Response(
                200, json={**order, "origClientOrderId": cid, "clientOrderId": "cancel-1"}
            )
        return httpx.Response(200, json=order)


@pytest.fixture
def venue() -> FakeVenue:
    return FakeVenue(FakeClock(start_ns=1_700_000_000_000_000_000))


def adapter_for(venue: FakeVenue, **overrides: Any) -> BinanceOrderAdapter:
    settings = BinanceSettings(
        api_key="key", api_secret=SECRET, rest_url="http://venue", **overrides
    )
    return BinanceOrderAdapter(settings, clock=venue.clock, transport=httpx.MockTransport(venue))


def order(cid: str = "tg-1", **kw: Any) -> OrderRequest:
    base = {
        "client_order_id": cid,
        "consumer_id": "c1",
        "provider": "binance",
        "symbol": "BTC-USDT",
        "side": Side.BUY,
        "qty": D("0.01"),
        "price": D("30000.00"),
    }
    return OrderRequest(**{**base, **kw})


def order_posts(venue: FakeVenue) -> list[httpx.Request]:
    return [r for r in venue.requests if r.method == "POST"]


@pytest.mark.anyio
async def test_submit_sends_a_signed_limit_order_and_maps_the_answer(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        assert Symbol("BTC-USDT") in adapter.instruments()
        ack = await adapter.submit(order())
    (post,) = order_posts(venue)
    params = dict(parse_qsl(post.url.query.decode()))
    assert params["symbol"] == "BTCUSDT"
    assert params["side"] == "BUY"
    assert params["type"] == "LIMIT"
    assert params["timeInForce"] == "GTC"
    assert params["price"] == "30000.00"
    assert params["quantity"] == "0.01"
    assert params["newClientOrderId"] == "tg-1"
    assert list(params)[-1] == "signature"
    assert ack.client_order_id == "tg-1"
    assert ack.venue_order_id == "1"
    assert ack.report is not None
    assert ack.report.state is ExecState.ACK
    assert ack.report.leaves_qty == D("0.01")


@pytest.mark.anyio
async def test_market_order_has_no_price_or_time_in_force(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        await adapter.submit(order(type=OrderType.MARKET, price=None, side=Side.SELL))
    params = dict(parse_qsl(order_posts(venue)[0].url.query.decode()))
    assert params["type"] == "MARKET"
    assert params["side"] == "SELL"
    assert "price" not in params
    assert "timeInForce" not in params


@pytest.mark.anyio
async def test_a_client_order_id_is_never_sent_twice(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        await adapter.submit(order("tg-dup"))
        with pytest.raises(DuplicateOrderError, match="not sent twice"):
            await adapter.submit(order("tg-dup"))
    assert len(order_posts(venue)) == 1


@pytest.mark.anyio
async def test_bad_client_order_id_and_unknown_symbol_are_refused_locally(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        assert adapter.validate_client_order_id("a" * 36) is None
        assert adapter.validate_client_order_id("a_b-C9") is None
        assert "1-36" in (adapter.validate_client_order_id("a" * 37) or "")
        assert adapter.validate_client_order_id("has space") is not None
        assert adapter.validate_client_order_id("dot.id") is not None
        with pytest.raises(OrderValidationError, match="1-36"):
            await adapter.submit(order("x" * 40))
        with pytest.raises(OrderValidationError, match="unknown binance symbol 'ETH-USDT'"):
            await adapter.submit(order(symbol="ETH-USDT"))
    assert order_posts(venue) == []


@pytest.mark.anyio
async def test_submission_timeout_is_unknown_and_resolved_by_query(venue: FakeVenue) -> None:
    def accept_then_time_out(request: httpx.Request) -> httpx.Response:
        venue.script.clear()
        venue.orders["tg-slow"] = {
            "symbol": "BTCUSDT",
            "orderId": 77,
            "clientOrderId": "tg-slow",
            "price": "30000.00",
            "origQty": "0.01",
            "executedQty": "0.004",
            "cummulativeQuoteQty": "120.00",
            "status": "PARTIALLY_FILLED",
            "side": "BUY",
            "type": "LIMIT",
            "updateTime": 5,
        }
        raise httpx.ReadTimeout("no answer", request=request)

    venue.script.append(accept_then_time_out)
    async with adapter_for(venue).open() as adapter:
        with pytest.raises(OrderOutcomeUnknownError, match="query"):
            await adapter.submit(order("tg-slow"))
        report = await adapter.query(Symbol("BTC-USDT"), "tg-slow")
        assert report is not None
        assert report.state is ExecState.PARTIAL
        assert report.cum_qty == D("0.004")
        assert report.avg_price == D(30000)
        assert await adapter.query(Symbol("BTC-USDT"), "never-sent") is None
        assert adapter.tracker.open_orders() == [("BTC-USDT", "tg-slow")]
    assert len(order_posts(venue)) == 1  # resolved by query, not by resending


@pytest.mark.anyio
async def test_minus_1007_is_an_unknown_outcome(venue: FakeVenue) -> None:
    venue.script.append(
        lambda r: httpx.Response(
            400, json={"code": -1007, "msg": "Timeout waiting for response from backend server."}
        )
    )
    async with adapter_for(venue).open() as adapter:
        with pytest.raises(OrderOutcomeUnknownError):
            await adapter.submit(order("tg-1007"))


@pytest.mark.anyio
async def test_venue_rejections_are_mapped(venue: FakeVenue) -> None:
    venue.script.append(
        lambda r: httpx.Response(
            400,
            json={"code": -2010, "msg": "Account has insufficient balance for requested action."},
        )
    )
    venue.script.append(
        lambda r: httpx.Response(
            429, json={"code": -1003, "msg": "Too many requests."}, headers={"Retry-After": "3"}
        )
    )
    async with adapter_for(venue).open() as adapter:
        with pytest.raises(BinanceRejectedError) as info:
            await adapter.submit(order("tg-a"))
        assert info.value.reason == "insufficient_balance"
        assert info.value.code == -2010
        with pytest.raises(RateLimitedError) as rl:
            await adapter.submit(order("tg-b"))
        assert rl.value.retry_after == 3.0
        assert adapter.tracker.open_orders() == []  # refused orders need no recovery


@pytest.mark.anyio
async def test_wrong_secret_is_an_authentication_error(venue: FakeVenue) -> None:
    settings = BinanceSettings(api_key="key", api_secret="wrong", rest_url="http://venue")
    adapter = BinanceOrderAdapter(settings, clock=venue.clock, transport=httpx.MockTransport(venue))
    async with adapter.open():
        with pytest.raises(AuthenticationError):
            await adapter.submit(order())


@pytest.mark.anyio
async def test_timestamp_rejection_syncs_the_clock_and_retries_once(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        venue.server_offset_ms = 5000  # the venue clock jumps ahead after start-up
        ack = await adapter.submit(order("tg-ts"))
    assert ack.venue_order_id == "1"
    assert len(venue.orders) == 1


@pytest.mark.anyio
async def test_cancel_by_client_order_id(venue: FakeVenue) -> None:
    async with adapter_for(venue).open() as adapter:
        await adapter.submit(order("tg-c"))
        rep = await adapter.cancel(
            CancelRequest(
                client_order_id="tg-c", consumer_id="c1", provider="binance", symbol="BTC-USDT"
            )
        )
    assert rep is not None
    assert rep.state is ExecState.CANCELLED
    assert rep.client_order_id == "tg-c"
    delete = next(r for r in venue.requests if r.method == "DELETE")
    assert dict(parse_qsl(delete.url.query.decode()))["origClientOrderId"] == "tg-c"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "bad"),
    [("executedQty", "NaN"), ("origQty", "-1"), ("price", "Infinity"), ("symbol", "ZZZ")],
)
async def test_a_malformed_order_answer_is_counted_and_never_becomes_a_report(
    venue: FakeVenue, field: str, bad: str
) -> None:
    rejects: list[str] = []
    settings = BinanceSettings(api_key="key", api_secret=SECRET, rest_url="http://venue")
    adapter = BinanceOrderAdapter(
        settings,
        clock=venue.clock,
        transport=httpx.MockTransport(venue),
        on_reject=lambda reason, **kw: rejects.append(reason),
    )
    async with adapter.open():
        await adapter.submit(order("tg-bad"))
        venue.orders["tg-bad"][field] = bad
        with pytest.raises(SchemaError):  # the order path treats it as an unknown outcome
            await adapter.query(Symbol("BTC-USDT"), "tg-bad")
        adapter.tracker.track("BTC-USDT", "tg-bad")
        assert await adapter.recover() == []  # skipped (counted), asked again next time
    assert rejects == ["unknown_symbol" if field == "symbol" else "value"] * 2


@pytest.mark.anyio
async def test_not_running_is_a_clear_error(venue: FakeVenue) -> None:
    with pytest.raises(Exception, match="not running"):
        await adapter_for(venue).query(Symbol("BTC-USDT"), "x")


@pytest.mark.anyio
async def test_adapter_needs_credentials() -> None:
    adapter = BinanceOrderAdapter(
        BinanceSettings(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(ConfigError, match="api_key"):
        async with adapter.open():
            pass


# -- the per-order filter ----------------------------------------------------------------


def rep(
    state: ExecState, cum: str, last: str = "0", eid: str | None = None, avg: str | None = None
) -> ExecReport:
    return ExecReport(
        event_id=eid or f"e-{state}-{cum}-{last}",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        client_order_id="o1",
        state=state,
        cum_qty=D(cum),
        last_qty=D(last),
        avg_price=D(avg) if avg else None,
    )


def test_tracker_moves_each_order_forward_only() -> None:
    t = OrderTracker()
    t.track("BTC-USDT", "o1")
    assert t.accept(rep(ExecState.ACK, "0")) is not None
    assert t.accept(rep(ExecState.ACK, "0", eid="other")) is None  # no progress
    assert t.accept(rep(ExecState.PARTIAL, "0.4", "0.4", avg="10")) is not None
    assert t.accept(rep(ExecState.PARTIAL, "0.4", "0.4", avg="10")) is None  # same exec id
    assert t.accept(rep(ExecState.ACK, "0", eid="late")) is None  # regression
    filled = t.accept(rep(ExecState.FILLED, "1", avg="11"), recovered=True)
    # A recovered report carries the missed fill: 0.6 at (11*1 - 10*0.4) / 0.6.
    assert filled is not None
    assert filled.last_qty == D("0.6")
    assert filled.last_price == (D(11) - D(4)) / D("0.6")
    assert t.accept(rep(ExecState.CANCELLED, "1")) is None  # nothing after a final state
    assert t.open_orders() == []


def test_tracker_folds_a_fill_lost_on_the_stream_into_the_next_one() -> None:
    t = OrderTracker()
    t.accept(rep(ExecState.ACK, "0"))
    # The PARTIAL (0.4 at 10) was lost; FILLED reports its own 0.6 at 12 and cum 1 at avg 11.2.
    out = t.accept(rep(ExecState.FILLED, "1", "0.6", avg="11.2"))
    assert out is not None
    assert out.last_qty == 1
    assert out.last_price == D("11.2")


def test_tracker_is_bounded() -> None:
    t = OrderTracker(max_orders=2)
    for cid in ("a", "b", "c"):
        t.track("BTC-USDT", cid)
    assert [c for _, c in t.open_orders()] == ["b", "c"]


def test_user_stream_frames(
    http_capture: Callable[[str], list],
    nautilus_json: Callable[[str], dict],
    user_stream: Callable[..., Any],
) -> None:
    """Real-shaped user-data frames go through the WS API framing to ExecReports."""
    from tradegw_binance.parsing import BinanceParser
    from tradegw_binance.symbols import BinanceSymbolMap

    (ans,) = http_capture("cryptofeed/BINANCE.0")
    parser = BinanceParser("binance", BinanceSymbolMap.from_exchange_info(ans.body, "binance"))
    out: list[ExecReport] = []
    rejects: list[str] = []
    stream = user_stream(parser, out.append, lambda reason, **kw: rejects.append(reason))
    rollovers: list[bool] = []
    stream.on_rollover = lambda: rollovers.append(True)
    doc = nautilus_json("user_data_json/execution_report_wrapped.json")
    stream.on_frame(json.dumps(doc), 1)
    stream.on_frame(json.dumps(doc), 2)  # a copy is not emitted twice
    stream.on_frame(json.dumps(nautilus_json("user_data_json/balance_update_wrapped.json")), 3)
    stream.on_frame(b'{"subscriptionId":0,"event":{"e":"executionReport","bad":1}}', 4)
    stream.on_frame(b"garbage", 5)
    stream.on_frame(b'{"event":{"e":"serverShutdown","E":1}}', 6)
    assert [r.state for r in out] == [ExecState.ACK]
    assert out[0].symbol == "ETH-BTC"
    assert rollovers == [True]
    assert rejects == ["schema", "decode"]  # the off-schema report and the garbage: counted
