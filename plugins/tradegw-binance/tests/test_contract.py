"""Contract: the Binance emulator answers requests shaped like the venue's documented examples.

Requests are raw HTTP / WebSocket, signed here with ``hmac`` by the rules of rest-api.md
("SIGNED Endpoint Examples for POST /api/v3/order": query string only, body only, and
mixed query + body, signature appended last), never with our own client. Answers are
checked against the shapes of rest-api.md / web-socket-streams.md / user-data-stream.md
(field names, 8-decimal numbers, error codes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pytest
from tradegw_binance.emulator import BinanceEmulator
from websockets.asyncio.client import ClientConnection, connect

from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

EIGHT = re.compile(r"^-?\d+\.\d{8}$")
DEPTHS = (5, 10, 20, 50, 100, 500, 1000, 5000)  # rest-api.md "Order book": limit values


@asynccontextmanager
async def venue() -> AsyncIterator[tuple[BinanceEmulator, httpx.AsyncClient]]:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=5, rate=50)
    cfg = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), simulator=sim)
    async with BinanceEmulator(cfg) as emu, httpx.AsyncClient(base_url=emu.rest_url) as http:
        sim.events(400)  # some public trades on the tape
        yield emu, http


def _sign(emu: BinanceEmulator, payload: str) -> str:
    secret = emu.credentials[0].api_secret.encode()
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def _ts(emu: BinanceEmulator) -> str:
    return str(emu.clock.time_ns() // 1_000_000)


async def signed(
    emu: BinanceEmulator,
    http: httpx.AsyncClient,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    """A SIGNED request; ``signature`` goes last in the body when there is one."""
    q = urlencode(query or [])
    b = urlencode([*(body or []), ("recvWindow", "5000"), ("timestamp", _ts(emu))])
    if body is None and method == "GET":
        q = urlencode([*(query or []), ("recvWindow", "5000"), ("timestamp", _ts(emu))])
        q += "&signature=" + _sign(emu, q)
        b = ""
    else:
        b += "&signature=" + _sign(emu, q + b)
    headers = {"X-MBX-APIKEY": emu.credentials[0].api_key}
    if b:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = path + ("?" + q if q else "")
    return await http.request(method, url, content=b.encode(), headers=headers)


def assert_eight(values: list[str]) -> None:
    bad = [v for v in values if not EIGHT.match(v)]
    assert not bad, f"not rendered with 8 decimals like the venue: {bad[:3]}"


@pytest.mark.anyio
async def test_public_market_data_answers_the_documented_shapes() -> None:
    async with venue() as (_, http):
        info = (await http.get("/api/v3/exchangeInfo?symbol=BTCUSDT")).json()
        bad_info = await http.get("/api/v3/exchangeInfo?symbol=NOPE")
        assert bad_info.json() == {"code": -1121, "msg": "Invalid symbol."}
        (sym,) = info["symbols"]
        assert (sym["symbol"], sym["baseAsset"], sym["quoteAsset"]) == ("BTCUSDT", "BTC", "USDT")
        filters = {f["filterType"]: f for f in sym["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
        for limit in DEPTHS:
            book = await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": limit})
            body = book.json()
            assert set(body) == {"lastUpdateId", "bids", "asks"}
            assert len(body["bids"]) == len(body["asks"]) == min(limit, 1000), limit
            assert_eight([v for level in body["bids"][:5] + body["asks"][:5] for v in level])
        assert len((await http.get("/api/v3/depth?symbol=BTCUSDT")).json()["bids"]) == 100
        trades = (await http.get("/api/v3/trades?symbol=BTCUSDT&limit=5")).json()
        assert len(trades) == 5
        assert set(trades[0]) == {
            "id",
            "price",
            "qty",
            "quoteQty",
            "time",
            "isBuyerMaker",
            "isBestMatch",
        }
        assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)
        agg = await http.get(f"/api/v3/aggTrades?symbol=BTCUSDT&fromId={trades[0]['id']}")
        assert [a["a"] for a in agg.json()][:5] == [t["id"] for t in trades]
        assert set(agg.json()[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
        klines = (await http.get("/api/v3/klines?symbol=BTCUSDT&interval=1m")).json()
        assert klines
        assert len(klines[0]) == 12
        open_ms, o, h, low, c, v, close_ms, *_ = klines[0]
        assert close_ms == open_ms + 59_999
        assert Decimal(low) <= Decimal(o) <= Decimal(h)
        assert_eight([o, h, low, c, v])
        bad = await http.get("/api/v3/klines?symbol=BTCUSDT&interval=7m")
        assert (bad.status_code, bad.json()) == (400, {"code": -1120, "msg": "Invalid interval."})
        ticker = (await http.get("/api/v3/ticker/24hr?symbol=BTCUSDT")).json()
        assert ticker["symbol"] == "BTCUSDT"
        assert ticker["count"] > 0
        assert ticker["lastId"] == trades[-1]["id"]
        many = (await http.get('/api/v3/ticker/24hr?symbols=["BTCUSDT"]')).json()
        assert isinstance(many, list)
        assert many[0]["lastPrice"] == ticker["lastPrice"]
        bbo = (await http.get("/api/v3/ticker/bookTicker?symbol=BTCUSDT")).json()
        assert set(bbo) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
        assert Decimal(bbo["bidPrice"]) < Decimal(bbo["askPrice"])
        price = (await http.get("/api/v3/ticker/price?symbol=BTCUSDT")).json()
        assert price == {"symbol": "BTCUSDT", "price": ticker["lastPrice"]}
        avg = (await http.get("/api/v3/avgPrice?symbol=BTCUSDT")).json()
        assert avg["mins"] == 5
        assert EIGHT.match(avg["price"])
        unknown = await http.get("/api/v3/nope")
        assert unknown.status_code == 404
        assert unknown.json() == {"code": -1020, "msg": "This operation is not supported."}
        bad_symbol = await http.get("/api/v3/trades?symbol=NOPE")
        assert bad_symbol.json() == {"code": -1121, "msg": "Invalid symbol."}


@pytest.mark.anyio
async def test_signatures_over_query_body_and_mixed_total_params() -> None:
    async with venue() as (emu, http):
        order = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC")]
        size = [("quantity", "0.00100"), ("price", "50000.00")]
        # example 2: everything in the body
        r = await signed(
            emu, http, "POST", "/api/v3/order", body=[*order, *size, ("newClientOrderId", "body-1")]
        )
        assert r.status_code == 200, r.text
        assert r.json()["clientOrderId"] == "body-1"
        # example 3: mixed query string and body, signature over both, no separator
        r = await signed(
            emu,
            http,
            "POST",
            "/api/v3/order",
            query=order,
            body=[*size, ("newClientOrderId", "mixed-1")],
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "NEW"
        assert r.json()["price"] == "50000.00000000"
        # a signature over the body alone does not verify a mixed request
        q, b = urlencode(order), urlencode([*size, ("timestamp", _ts(emu))])
        r = await http.post(
            f"/api/v3/order?{q}",
            content=f"{b}&signature={_sign(emu, b)}",
            headers={
                "X-MBX-APIKEY": emu.credentials[0].api_key,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert (r.status_code, r.json()) == (
            400,
            {"code": -1022, "msg": "Signature for this request is not valid."},
        )
        r = await http.get(
            "/api/v3/account?timestamp=1&signature=00", headers={"X-MBX-APIKEY": "not-a-key"}
        )
        assert (r.status_code, r.json()["code"]) == (401, -2015)


async def _user_stream(emu: BinanceEmulator, ws: ClientConnection) -> int:
    params = {"apiKey": emu.credentials[0].api_key, "timestamp": int(_ts(emu))}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    await ws.send(
        json.dumps(
            {
                "id": "s1",
                "method": "userDataStream.subscribe.signature",
                "params": {**params, "signature": _sign(emu, payload)},
            }
        )
    )
    answer = json.loads(await ws.recv())
    assert answer["status"] == 200, answer
    return int(answer["result"]["subscriptionId"])


@pytest.mark.anyio
async def test_orders_fills_balances_and_the_private_stream_in_the_venues_order() -> None:
    async with venue() as (emu, http), connect(emu.ws_api_url) as ws:
        sub = await _user_stream(emu, ws)
        before = (await signed(emu, http, "GET", "/api/v3/account")).json()
        usdt = {b["asset"]: b for b in before["balances"]}["USDT"]
        assert_eight([usdt["free"], usdt["locked"]])
        rest = [
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.00100"),
            ("price", "50000.00"),
        ]
        for cid in ("rest-1", "rest-2"):
            r = await signed(
                emu, http, "POST", "/api/v3/order", body=[*rest, ("newClientOrderId", cid)]
            )
            assert r.json()["status"] == "NEW"
        q = await signed(
            emu,
            http,
            "GET",
            "/api/v3/order",
            query=[("symbol", "BTCUSDT"), ("origClientOrderId", "rest-1")],
        )
        assert q.json()["clientOrderId"] == "rest-1"
        assert q.json()["isWorking"] is True
        opened = await signed(emu, http, "GET", "/api/v3/openOrders", query=[("symbol", "BTCUSDT")])
        assert [o["clientOrderId"] for o in opened.json()] == ["rest-1", "rest-2"]
        cancel = await signed(
            emu,
            http,
            "DELETE",
            "/api/v3/order",
            query=[("symbol", "BTCUSDT"), ("origClientOrderId", "rest-1")],
        )
        assert cancel.json()["origClientOrderId"] == "rest-1"
        assert cancel.json()["status"] == "CANCELED"
        all_cancel = await signed(
            emu, http, "DELETE", "/api/v3/openOrders", query=[("symbol", "BTCUSDT")]
        )
        assert [o["origClientOrderId"] for o in all_cancel.json()] == ["rest-2"]
        none_left = await signed(
            emu, http, "DELETE", "/api/v3/openOrders", query=[("symbol", "BTCUSDT")]
        )
        assert none_left.json() == {"code": -2011, "msg": "Unknown order sent."}
        # a filling market order by quote amount; FULL is the default answer
        buy = await signed(
            emu,
            http,
            "POST",
            "/api/v3/order",
            body=[
                ("symbol", "BTCUSDT"),
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quoteOrderQty", "100"),
                ("newClientOrderId", "mkt-1"),
            ],
        )
        filled = buy.json()
        assert filled["status"] == "FILLED", filled
        assert filled["fills"]
        assert filled["origQuoteOrderQty"] == "100.00000000"
        assert Decimal(filled["cummulativeQuoteQty"]) <= 100
        assert_eight([f["price"] for f in filled["fills"]] + [filled["executedQty"]])
        mine = await signed(emu, http, "GET", "/api/v3/myTrades", query=[("symbol", "BTCUSDT")])
        assert [t["orderId"] for t in mine.json()] == [filled["orderId"]] * len(filled["fills"])
        assert mine.json()[0]["isBuyer"] is True
        assert mine.json()[0]["isMaker"] is False
        history = await signed(emu, http, "GET", "/api/v3/allOrders", query=[("symbol", "BTCUSDT")])
        assert [(o["clientOrderId"], o["status"]) for o in history.json()] == [
            ("rest-1", "CANCELED"),
            ("rest-2", "CANCELED"),
            ("mkt-1", "FILLED"),
        ]
        after = (await signed(emu, http, "GET", "/api/v3/account")).json()
        btc = {b["asset"]: b for b in after["balances"]}["BTC"]
        start_btc = {b["asset"]: b for b in before["balances"]}["BTC"]
        assert Decimal(btc["free"]) - Decimal(start_btc["free"]) == Decimal(filled["executedQty"])
        # the user data stream: each order's NEW first, then its trades / cancel, in order
        reports: list[dict[str, Any]] = []
        with anyio.fail_after(5):
            while not reports or reports[-1]["X"] != "FILLED":
                frame = json.loads(await ws.recv())
                assert frame["subscriptionId"] == sub
                reports.append(frame["event"])
        flow = [(e["c"], e["x"], e["X"]) for e in reports if e["e"] == "executionReport"]
        assert flow[:4] == [
            ("rest-1", "NEW", "NEW"),
            ("rest-2", "NEW", "NEW"),
            ("rest-1", "CANCELED", "CANCELED"),
            ("rest-2", "CANCELED", "CANCELED"),
        ]
        assert flow[4] == ("mkt-1", "NEW", "NEW")
        assert flow[-1] == ("mkt-1", "TRADE", "FILLED")
        assert {x for _, x, _ in flow[5:]} == {"TRADE"}


@pytest.mark.anyio
async def test_streams_publish_mini_ticker_and_partial_depth() -> None:
    async with venue() as (emu, _):
        streams = "btcusdt@miniTicker/btcusdt@depth5@100ms/btcusdt@depth10"
        async with connect(f"{emu.ws_url}/stream?streams={streams}") as ws:
            seen: dict[str, dict[str, Any]] = {}
            with anyio.fail_after(5):
                while len(seen) < 3:
                    emu.sim.events(5)
                    emu.flush_depth(slow=True)  # the 1000 ms @depth10 without waiting 1 s
                    frame = json.loads(await ws.recv())
                    seen[frame["stream"]] = frame["data"]
        mini = seen["btcusdt@miniTicker"]
        assert mini["e"] == "24hrMiniTicker"
        assert set(mini) == {"e", "E", "s", "c", "o", "h", "l", "v", "q"}
        five, ten = seen["btcusdt@depth5@100ms"], seen["btcusdt@depth10"]
        assert set(five) == {"lastUpdateId", "bids", "asks"}
        assert (len(five["bids"]), len(five["asks"]), len(ten["bids"])) == (5, 5, 10)
        assert_eight(five["bids"][0] + five["asks"][0])
