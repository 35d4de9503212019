"""Contract: the Kraken emulator answers requests shaped like the venue's documented examples.

REST requests are raw ``httpx`` calls signed here by the documented API-Sign rule
(base64 HMAC-SHA512, key = base64-decoded secret, message = URI path + SHA256(nonce +
POST data)), never with our own client; WebSocket v2 requests are the documented JSON
(``subscribe``, ``add_order``, ``cancel_order``, ``cancel_all``). Expected shapes come from
docs.kraken.com and the fixtures under ``shared/data`` (AssetPairs of the real XBTUSDT pair,
``kraken-data-recorder`` instrument snapshot).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import msgspec
import pytest
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.emulator_trading import fire_dead_man
from websockets.asyncio.client import ClientConnection, connect

from tradegw_core.clock import FakeClock
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.testing.data import load_shared_json

_nonces = itertools.count(1)
_NUMBERS = msgspec.json.Encoder(decimal_format="number")


@asynccontextmanager
async def venue() -> AsyncIterator[tuple[KrakenEmulator, httpx.AsyncClient]]:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=9, rate=50)
    cfg = EmulatorConfig(venue="kraken", symbols=("BTC-USDT",), simulator=sim)
    async with KrakenEmulator(cfg) as emu, httpx.AsyncClient(base_url=emu.rest_url) as http:
        sim.events(400)  # some public trades on the tape
        yield emu, http


async def private(
    emu: KrakenEmulator,
    http: httpx.AsyncClient,
    method: str,
    secret: str | None = None,
    **params: str,
) -> Any:
    path = f"/0/private/{method}"
    nonce = str(next(_nonces))
    body = urlencode({"nonce": nonce, **params})
    digest = hashlib.sha256((nonce + body).encode()).digest()
    key = base64.b64decode(secret or emu.credentials[0].api_secret)
    sign = base64.b64encode(hmac.new(key, path.encode() + digest, hashlib.sha512).digest())
    headers = {
        "API-Key": emu.credentials[0].api_key,
        "API-Sign": sign.decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return (await http.post(path, content=body, headers=headers)).json()


async def public(http: httpx.AsyncClient, method: str, **params: str) -> Any:
    return (await http.get(f"/0/public/{method}", params=params)).json()


@pytest.mark.anyio
async def test_public_rest_answers_the_documented_shapes() -> None:
    async with venue() as (_, http):
        real = load_shared_json("nautilus/kraken/http_asset_pairs.json")
        pairs = await public(http, "AssetPairs", pair="XBTUSDT")
        assert pairs["error"] == []
        (key,) = pairs["result"]
        ours, theirs = pairs["result"][key], real["result"]["XBTUSDT"]
        assert key == "XBTUSDT"  # the real answer's key
        for name in ("altname", "wsname", "base", "quote", "aclass_base", "lot"):
            assert ours[name] == theirs[name], name
        assert (await public(http, "AssetPairs", pair="NOPE")) == {
            "error": ["EQuery:Unknown asset pair"]
        }
        assets = (await public(http, "Assets"))["result"]
        assert assets["XXBT"]["altname"] == "XBT"
        assert (assets["XXBT"]["decimals"], assets["USDT"]["decimals"]) == (10, 8)
        ticker = (await public(http, "Ticker", pair="XBTUSDT"))["result"]["XBTUSDT"]
        assert set(ticker) == {"a", "b", "c", "v", "p", "t", "l", "h", "o"}
        assert Decimal(ticker["b"][0]) < Decimal(ticker["a"][0])
        trades = (await public(http, "Trades", pair="XBTUSDT", count="3"))["result"]
        rows = trades["XBTUSDT"]
        assert len(rows) == 3
        assert [len(r) for r in rows] == [7, 7, 7]
        assert rows[0][3] in ("b", "s")
        newer = (await public(http, "Trades", pair="XBTUSDT", since=trades["last"]))["result"]
        assert newer["XBTUSDT"] == []
        ohlc = (await public(http, "OHLC", pair="XBTUSDT", interval="1"))["result"]["XBTUSDT"]
        assert ohlc
        assert len(ohlc[0]) == 8
        bad = await public(http, "OHLC", pair="XBTUSDT", interval="7")
        assert bad == {"error": ["EGeneral:Invalid arguments:interval"]}
        status = (await public(http, "SystemStatus"))["result"]
        assert status["status"] == "online"
        depth = (await public(http, "Depth", pair="XBTUSDT", count="500"))["result"]["XBTUSDT"]
        assert len(depth["bids"]) == len(depth["asks"]) == 500
        unknown = await http.get("/0/public/Nope")
        assert unknown.json() == {"error": ["EGeneral:Unknown method"]}


async def _send(ws: ClientConnection, method: str, req_id: int, **params: Any) -> None:
    """One request; Decimal params go out as JSON numbers, as in the documented examples."""
    await ws.send(_NUMBERS.encode({"method": method, "params": params, "req_id": req_id}))


async def _answer(ws: ClientConnection, req_id: int, frames: list[dict[str, Any]]) -> Any:
    """The answer to ``req_id``; everything else received meanwhile goes to ``frames``."""
    with anyio.fail_after(5):
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("req_id") == req_id:
                return msg
            frames.append(msg)


@pytest.mark.anyio
async def test_websocket_books_at_every_depth_trades_snapshot_and_instrument() -> None:
    async with venue() as (emu, _), connect(emu.ws_url) as ws:
        frames: list[dict[str, Any]] = []
        for n, depth in enumerate((10, 25, 100, 500, 1000), start=1):
            await _send(ws, "subscribe", n, channel="book", symbol=["BTC/USDT"], depth=depth)
            ack = await _answer(ws, n, frames)
            assert ack["success"] is True
            assert ack["result"]["depth"] == depth
            snap = json.loads(await ws.recv())
            assert (snap["channel"], snap["type"]) == ("book", "snapshot")
            assert len(snap["data"][0]["bids"]) == depth
            await _send(
                ws, "unsubscribe", 100 + n, channel="book", symbol=["BTC/USDT"], depth=depth
            )
            await _answer(ws, 100 + n, frames)
        await _send(ws, "subscribe", 20, channel="trade", symbol=["BTC/USDT"], snapshot=True)
        ack = await _answer(ws, 20, frames)
        assert ack["result"]["snapshot"] is True
        snap = json.loads(await ws.recv())
        assert (snap["channel"], snap["type"], len(snap["data"])) == ("trade", "snapshot", 50)
        assert set(snap["data"][0]) == {
            "symbol",
            "side",
            "price",
            "qty",
            "ord_type",
            "trade_id",
            "timestamp",
        }
        await _send(ws, "subscribe", 21, channel="instrument")
        await _answer(ws, 21, frames)
        inst = json.loads(await ws.recv())
        assets = {a["id"]: a for a in inst["data"]["assets"]}
        assert (assets["BTC"]["precision"], assets["USDT"]["precision_display"]) == (10, 4)


@pytest.mark.anyio
async def test_orders_over_rest_and_websocket_with_executions_in_the_venues_order() -> None:
    async with venue() as (emu, http), connect(emu.ws_url) as ws:
        frames: list[dict[str, Any]] = []
        bad = await private(emu, http, "Balance", secret=base64.b64encode(b"wrong").decode())
        assert bad == {"error": ["EAPI:Invalid signature"]}
        token = (await private(emu, http, "GetWebSocketsToken"))["result"]["token"]
        await _send(ws, "subscribe", 1, channel="executions", token=token, snap_orders=True)
        assert (await _answer(ws, 1, frames))["success"] is True
        bid = emu.sim.book("kraken", "BTC-USDT", depth=1).bids[0][0]
        low = str(bid - 500)
        long_id = "x" * 19
        refused = await private(
            emu,
            http,
            "AddOrder",
            pair="XBTUSDT",
            type="buy",
            ordertype="limit",
            price=low,
            volume="0.001",
            cl_ord_id=long_id,
        )
        assert refused == {"error": ["EGeneral:Invalid arguments:cl_ord_id"]}
        placed = await private(
            emu,
            http,
            "AddOrder",
            pair="XBTUSDT",
            type="buy",
            ordertype="limit",
            price=low,
            volume="0.001",
            cl_ord_id="rest-1",
        )
        (txid,) = placed["result"]["txid"]
        for req_id, cl_ord_id in ((2, "6d1b345e-2821-40e2-ad83-4ecb18a06876"), (3, "ws-2")):
            await _send(ws, "add_order", req_id, order_type="limit", side="buy",
                        order_qty=Decimal("0.001"), symbol="BTC/USDT", limit_price=Decimal(low),
                        time_in_force="gtc", cl_ord_id=cl_ord_id, token=token)  # fmt: skip
            added = await _answer(ws, req_id, frames)
            assert added["success"] is True
            assert added["result"]["cl_ord_id"] == cl_ord_id
        opened = (await private(emu, http, "OpenOrders"))["result"]["open"]
        assert {o["cl_ord_id"] for o in opened.values()} == {
            "rest-1",
            "6d1b345e-2821-40e2-ad83-4ecb18a06876",
            "ws-2",
        }
        queried = (await private(emu, http, "QueryOrders", txid=txid))["result"]
        assert queried[txid]["status"] == "open"
        await _send(ws, "cancel_order", 4, cl_ord_id=["ws-2"], token=token)
        cancelled = await _answer(ws, 4, frames)
        assert cancelled["result"]["cl_ord_id"] == "ws-2"
        await _send(ws, "cancel_all", 5, token=token)
        assert (await _answer(ws, 5, frames))["result"] == {"count": 2}
        closed = (await private(emu, http, "ClosedOrders"))["result"]
        assert closed["count"] == 3
        assert {o["status"] for o in closed["closed"].values()} == {"canceled"}
        assert (await private(emu, http, "CancelAll"))["result"] == {"count": 0}
        # a filling market order, then its executions: one message per entry, in order
        await _send(
            ws,
            "add_order",
            6,
            order_type="market",
            side="buy",
            order_qty=Decimal("0.0001"),
            symbol="BTC/USDT",
            cl_ord_id="mkt-1",
            token=token,
        )
        assert (await _answer(ws, 6, frames))["success"] is True
        with anyio.fail_after(5):
            while not any(
                e["exec_type"] == "filled"
                for f in frames
                if f.get("channel") == "executions"
                for e in f["data"]
            ):
                frames.append(json.loads(await ws.recv()))
        execs = [f for f in frames if f.get("channel") == "executions" and f["type"] == "update"]
        assert all(len(f["data"]) == 1 for f in execs)
        assert [f["sequence"] for f in execs] == sorted(f["sequence"] for f in execs)
        mkt = [f["data"][0]["exec_type"] for f in execs if f["data"][0].get("cl_ord_id") == "mkt-1"]
        assert mkt[:2] == ["pending_new", "new"]
        assert mkt[-1] == "filled"
        assert set(mkt[2:-1]) == {"trade"}
        history = (await private(emu, http, "TradesHistory"))["result"]
        assert history["count"] == len(mkt) - 3
        balances = (await private(emu, http, "Balance"))["result"]
        extended = (await private(emu, http, "BalanceEx"))["result"]
        assert set(balances) == {"XXBT", "USDT"}
        assert extended["XXBT"]["balance"] == balances["XXBT"]
        assert extended["USDT"]["hold_trade"] == "0.00000000"  # USDT has 8 decimals
        assert len(balances["XXBT"].split(".")[1]) == 10  # BTC has 10


@pytest.mark.anyio
async def test_batch_cancel_and_the_dead_mans_switch() -> None:
    clock = FakeClock()
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=9, clock=clock)
    cfg = EmulatorConfig(venue="kraken", symbols=("BTC-USDT",), simulator=sim, clock=clock)
    emu = KrakenEmulator(cfg)
    async with emu, httpx.AsyncClient(base_url=emu.rest_url) as http, connect(emu.ws_url) as ws:
        frames: list[dict[str, Any]] = []
        token = (await private(emu, http, "GetWebSocketsToken"))["result"]["token"]
        low = emu.sim.book("kraken", "BTC-USDT", depth=1).bids[0][0] - 500
        for n in range(4):
            await _send(ws, "add_order", n, order_type="limit", side="buy",
                        order_qty=Decimal("0.001"), symbol="BTC/USDT", limit_price=low,
                        cl_ord_id=f"dm-{n}", token=token)  # fmt: skip
            assert (await _answer(ws, n, frames))["success"] is True
        txids = [o for o, e in
                 (await private(emu, http, "OpenOrders"))["result"]["open"].items()
                 if e["cl_ord_id"] in ("dm-0", "dm-1")]  # fmt: skip
        await _send(ws, "batch_cancel", 10, orders=txids[:1], cl_ord_id=["dm-1"], token=token)
        assert (await _answer(ws, 10, frames))["result"] == {"count": 2}
        await _send(ws, "batch_cancel", 11, orders=txids[:1], token=token)  # 1 id: too few
        assert (await _answer(ws, 11, frames))["success"] is False
        await _send(ws, "cancel_all_orders_after", 12, timeout=60, token=token)
        armed = (await _answer(ws, 12, frames))["result"]
        assert set(armed) == {"currentTime", "triggerTime"}
        assert armed["triggerTime"] > armed["currentTime"]
        clock.advance(59)
        assert fire_dead_man(emu) == 0
        assert len(emu.engines["BTC-USDT"].open_orders("main")) == 2
        clock.advance(1)
        assert fire_dead_man(emu) == 1
        assert emu.engines["BTC-USDT"].open_orders("main") == []
        clock.advance(3600)
        assert fire_dead_man(emu) == 0  # off until armed again
        await _send(ws, "cancel_all_orders_after", 13, timeout=0, token=token)
        assert (await _answer(ws, 13, frames))["result"]["triggerTime"] == "0"
