"""Order adapter paths the emulator does not produce, on ``httpx.MockTransport``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.jwt import unverified_header
from tradegw_coinbase.orders import CoinbaseOrderAdapter

from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    VenueRejectedError,
)
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.schema.symbols import Symbol

pytestmark = pytest.mark.anyio
P = "/api/v3/brokerage"
KEY = ec.generate_private_key(ec.SECP256R1())
SETTINGS = CoinbaseSettings(
    rest_url="https://api.coinbase.com",
    api_key_name="organizations/o/apiKeys/k",
    api_private_key=KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode(),
)
ORDER = OrderRequest(
    client_order_id="c-1",
    consumer_id="s",
    provider="coinbase",
    symbol="BTC-USD",
    side=Side.BUY,
    qty=Decimal("0.001"),
    price=Decimal("60000.00"),
)


def _rest_order(coid: str, order_id: str, status: str = "OPEN") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "product_id": "BTC-USD",
        "client_order_id": coid,
        "side": "BUY",
        "status": status,
        "order_configuration": {
            "limit_limit_gtc": {"base_size": "0.001", "limit_price": "60000.00"}
        },
        "filled_size": "0",
    }


class Venue:
    """A scripted venue: ``answers[path]`` is a list of (status, body) used in order."""

    def __init__(self, answers: dict[str, list[tuple[int, Any]]]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers[request.url.path].pop(0)
        return httpx.Response(status, json=body)

    def adapter(self) -> CoinbaseOrderAdapter:
        return CoinbaseOrderAdapter(SETTINGS, transport=httpx.MockTransport(self))


async def test_signed_requests_carry_a_fresh_jwt_for_the_request_line() -> None:
    ok = {"success": True, "success_response": {"order_id": "v-1", "product_id": "BTC-USD"}}
    venue = Venue({f"{P}/orders": [(200, ok)]})
    async with venue.adapter() as adapter:
        ack = await adapter.submit(ORDER)
    assert ack.venue_order_id == "v-1"
    (request,) = venue.requests
    token = request.headers["authorization"].removeprefix("Bearer ")
    assert unverified_header(token)["kid"] == SETTINGS.api_key_name
    body = json.loads(request.content)
    assert body["order_configuration"]["limit_limit_gtc"]["limit_price"] == "60000.00"


async def test_duplicate_failure_is_resolved_by_lookup_not_a_new_id() -> None:
    dup = {
        "success": False,
        "error_response": {"new_order_failure_reason": "DUPLICATE_CLIENT_ORDER_ID"},
    }
    page1 = {"orders": [_rest_order("other", "v-0")], "has_next": True, "cursor": "1"}
    page2 = {"orders": [_rest_order("c-1", "v-7")], "has_next": False, "cursor": ""}
    venue = Venue(
        {
            f"{P}/orders": [(200, dup)],
            f"{P}/orders/historical/batch": [(200, page1), (200, page2)],
        }
    )
    async with venue.adapter() as adapter:
        ack = await adapter.submit(ORDER)
        assert ack.venue_order_id == "v-7"
        assert venue.requests[-1].url.params["cursor"] == "1"
        assert [r.url.path for r in venue.requests].count(f"{P}/orders") == 1


async def test_answer_for_another_order_is_refused() -> None:
    other = {"success": True, "success_response": {"order_id": "v-9", "product_id": "ETH-USD"}}
    venue = Venue({f"{P}/orders": [(200, other)]})
    async with venue.adapter() as adapter:
        with pytest.raises(VenueRejectedError) as info:
            await adapter.submit(ORDER)
    assert info.value.code == "CLIENT_ORDER_ID_REUSED"


async def test_server_error_on_create_is_an_unknown_outcome() -> None:
    venue = Venue({f"{P}/orders": [(503, {"error": "UNAVAILABLE"})]})
    async with venue.adapter() as adapter:
        with pytest.raises(OrderOutcomeUnknownError):
            await adapter.submit(ORDER)


async def test_query_by_known_id_and_vanished_order() -> None:
    ok = {"success": True, "success_response": {"order_id": "v-1", "product_id": "BTC-USD"}}
    venue = Venue(
        {
            f"{P}/orders": [(200, ok), (200, ok)],
            f"{P}/orders/historical/v-1": [
                (200, {"order": _rest_order("c-1", "v-1", "CANCELLED")}),
                (404, {"error": "NOT_FOUND", "message": "order not found"}),
            ],
        }
    )
    async with venue.adapter() as adapter:
        await adapter.submit(ORDER)
        report = await adapter.query(Symbol("BTC-USD"), "c-1")
        assert report is not None
        assert report.state is ExecState.CANCELLED
        assert await adapter.query(Symbol("BTC-USD"), "c-1") is None


async def test_without_credentials_orders_fail_clearly(telemetry: Any) -> None:
    adapter = CoinbaseOrderAdapter(CoinbaseSettings(), telemetry=telemetry)
    async with anyio.create_task_group() as tg:
        await tg.start(adapter.run, lambda r: None)
        assert telemetry.named("coinbase.orders_disabled")
        with pytest.raises(AuthenticationError, match="no credentials"):
            await adapter.submit(ORDER)
        tg.cancel_scope.cancel()


def test_user_stream_survives_bad_frames(telemetry: Any) -> None:
    adapter = CoinbaseOrderAdapter(SETTINGS, telemetry=telemetry)
    adapter._on_frame(b"{garbage", 0)
    adapter._on_frame(b'{"type":"error","message":"authentication failure"}', 0)
    adapter._on_frame(b'{"channel":"heartbeats","sequence_num":1,"events":[]}', 0)
    adapter._on_frame(b'{"channel":"heartbeats","sequence_num":3,"events":[]}', 0)
    names = [n for n, _ in telemetry.events]
    assert names == ["coinbase.bad_frame", "coinbase.user_error", "coinbase.sequence_gap"]
    assert "authentication failure" in str(adapter.ws_errors[0])
