"""The Coinbase emulator's own venue rules, over loopback with a plain client."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from tradegw_coinbase.emulator_orders import parse_configuration
from tradegw_coinbase.emulator_wire import CandleBuilder, order_int, order_uuid
from tradegw_coinbase.http import JwtSigner
from tradegw_coinbase.parsing import format_time, parse_time_ns
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce

pytestmark = pytest.mark.anyio
P = "/api/v3/brokerage"


async def _recv(ws: Any) -> dict[str, Any]:
    with anyio.fail_after(5):
        data: dict[str, Any] = json.loads(await ws.recv())
    return data


async def _until(ws: Any, channel: str) -> dict[str, Any]:
    while True:
        frame = await _recv(ws)
        if frame.get("channel") == channel:
            return frame


async def test_client_without_subscribe_is_disconnected(coinbase_venue: Any) -> None:
    async with (
        coinbase_venue(options={"subscribe_timeout_s": 0.2}) as venue,
        connect(venue.emu.ws_url) as ws,
    ):
        with anyio.fail_after(5), pytest.raises(ConnectionClosed):
            await ws.recv()


async def test_subscriptions_acks_errors_and_sequence(coinbase_venue: Any) -> None:
    async with coinbase_venue() as venue, connect(venue.emu.ws_url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
        ack = await _recv(ws)
        assert ack["channel"] == "subscriptions"
        assert ack["events"] == [{"subscriptions": {"heartbeats": ["heartbeats"]}}]
        await ws.send(
            json.dumps({"type": "subscribe", "channel": "ticker", "product_ids": ["BTC-USD"]})
        )
        frames = [await _recv(ws), await _recv(ws)]
        assert [f["channel"] for f in frames] == ["subscriptions", "ticker"]
        assert frames[0]["events"][0]["subscriptions"]["ticker"] == ["BTC-USD"]
        assert frames[1]["events"][0]["type"] == "snapshot"
        seqs = [ack["sequence_num"]] + [f["sequence_num"] for f in frames]
        assert seqs == [0, 1, 2]  # one counter per connection, across channels
        await ws.send(json.dumps({"type": "unsubscribe", "channel": "ticker"}))
        assert (await _recv(ws))["events"][0]["subscriptions"] == {"heartbeats": ["heartbeats"]}
        for bad in (
            "not json",
            json.dumps({"type": "subscribe"}),
            json.dumps({"type": "subscribe", "channel": "level2", "product_ids": ["XXX-USD"]}),
        ):
            await ws.send(bad)
            assert await _recv(ws) == {"type": "error", "message": "failure to subscribe"}
        venue.emu.skip_sequence(2)
        await ws.send(
            json.dumps({"type": "subscribe", "channel": "candles", "product_ids": ["BTC-USD"]})
        )
        assert (await _recv(ws))["sequence_num"] == 3 + 1 + 2


async def test_user_snapshot_is_batched_by_fifty(coinbase_venue: Any) -> None:
    async with coinbase_venue() as venue:
        engine = venue.emu.engines["BTC-USD"]
        for n in range(120):
            engine.place("main", f"rest-{n}", Side.BUY, Decimal("0.001"), Decimal("30000.00"))
        signer = JwtSigner.from_settings(venue.settings, None)
        assert signer is not None
        async with connect(venue.emu.ws_url) as ws:
            await ws.send(
                json.dumps({"type": "subscribe", "channel": "user", "jwt": signer.token()})
            )
            await _until(ws, "subscriptions")
            sizes = [len((await _recv(ws))["events"][0]["orders"]) for _ in range(3)]
            assert sizes == [50, 50, 20]


async def test_rest_surface(coinbase_venue: Any) -> None:
    async with coinbase_venue() as venue:
        signer = JwtSigner.from_settings(venue.settings, None)
        assert signer is not None
        async with httpx.AsyncClient(base_url=venue.emu.rest_url) as client:

            async def signed(method: str, path: str, **kw: Any) -> httpx.Response:
                request = client.build_request(method, path, **kw)
                return await client.send(signer(None, request))  # type: ignore[arg-type]

            products = (await client.get(f"{P}/market/products")).json()["products"]
            assert [p["product_id"] for p in products] == ["BTC-USD", "ETH-USD"]
            one = (await client.get(f"{P}/market/products/ETH-USD")).json()
            assert one["base_currency_id"] == "ETH"
            assert (await client.get(f"{P}/market/products/NOPE-USD")).status_code == 404
            book = (
                await client.get(
                    f"{P}/market/product_book", params={"product_id": "BTC-USD", "limit": 3}
                )
            ).json()["pricebook"]
            assert len(book["bids"]) == len(book["asks"]) == 3
            bad_book = await client.get(f"{P}/market/product_book", params={"product_id": "X"})
            assert bad_book.status_code == 400
            now = (await client.get(f"{P}/time")).json()
            assert int(now["epochMillis"]) // 1000 == int(now["epochSeconds"])

            unsigned = await client.post(f"{P}/orders", json={})
            assert (unsigned.status_code, unsigned.text) == (401, "Unauthorized")
            missing = await signed("POST", f"{P}/orders", json={"product_id": "BTC-USD"})
            assert missing.status_code == 400
            body = {
                "client_order_id": "r-1",
                "product_id": "BTC-USD",
                "side": "SELL",
                "order_configuration": {"market_market_ioc": {"quote_size": "10"}},
            }
            refused = (await signed("POST", f"{P}/orders", json=body)).json()
            assert refused["error_response"]["new_order_failure_reason"] == (
                "UNSUPPORTED_ORDER_CONFIGURATION"
            )
            for field, value, code in (
                ("product_id", "NOPE-USD", "INVALID_PRODUCT_ID"),
                ("side", "HOLD", "INVALID_SIDE"),
            ):
                answer = (
                    await signed(
                        "POST", f"{P}/orders", json={**body, "client_order_id": field, field: value}
                    )
                ).json()
                assert answer["error_response"]["new_order_failure_reason"] == code
            for n in range(3):
                limit = {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "30000.00"}}
                order = {**body, "client_order_id": f"l-{n}", "order_configuration": limit}
                order["side"] = "BUY"
                assert (await signed("POST", f"{P}/orders", json=order)).json()["success"]
            page1 = (
                await signed("GET", f"{P}/orders/historical/batch", params={"limit": 2})
            ).json()
            assert [o["client_order_id"] for o in page1["orders"]] == ["l-2", "l-1"]
            assert page1["has_next"] is True
            page2 = (
                await signed(
                    "GET",
                    f"{P}/orders/historical/batch",
                    params={"limit": 2, "cursor": page1["cursor"]},
                )
            ).json()
            assert [o["client_order_id"] for o in page2["orders"]] == ["l-0"]
            assert page2["has_next"] is False
            open_only = await signed(
                "GET", f"{P}/orders/historical/batch", params={"order_status": "FILLED"}
            )
            assert open_only.json()["orders"] == []
            gone = await signed("GET", f"{P}/orders/historical/{order_uuid(999)}")
            assert gone.status_code == 404
            empty = await signed("POST", f"{P}/orders/batch_cancel", json={})
            assert empty.status_code == 400


def test_wire_helpers() -> None:
    assert format_time(1_788_824_242_278_739_877) == "2026-09-07T23:37:22.278739877Z"
    assert parse_time_ns(format_time(123_456_789)) == 123_456_789
    assert order_int(order_uuid(42)) == 42
    assert order_int("not-a-uuid") is None
    candles = CandleBuilder()
    assert candles.current("BTC-USD") is None
    candles.on_trade("BTC-USD", 300 * 10**9 + 5, Decimal(10), Decimal(1))
    c = candles.on_trade("BTC-USD", 301 * 10**9, Decimal(12), Decimal(2))
    assert c == {
        "start": "300",
        "high": "12",
        "low": "10",
        "open": "10",
        "close": "12",
        "volume": "3",
        "product_id": "BTC-USD",
    }
    assert candles.on_trade("BTC-USD", 600 * 10**9, Decimal(11), Decimal(1))["open"] == "11"
    assert parse_configuration({"limit_limit_fok": {"base_size": "1", "limit_price": "2"}}) == (
        OrderType.LIMIT,
        TimeInForce.FOK,
        Decimal(1),
        None,
        Decimal(2),
    )
    assert parse_configuration({"market_market_ioc": {"quote_size": "10"}}) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        None,
        Decimal(10),
        None,
    )
    assert isinstance(parse_configuration({"limit_limit_gtc": {"quote_size": "1"}}), str)
    assert isinstance(parse_configuration({}), str)
    assert isinstance(parse_configuration({"limit_limit_gtc": {"base_size": "x"}}), str)
