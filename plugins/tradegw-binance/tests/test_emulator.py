"""The Binance emulator speaks the venue's rules: signatures, control messages, limits."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from tradegw_binance.decoding import decode_depth_snapshot, decode_execution_report
from tradegw_binance.emulator import BinanceEmulator
from tradegw_binance.emulator_wire import execution_report, reject_error
from tradegw_binance.orders import BinanceOrderAdapter
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.signing import HmacSigner, sign_rest, sign_ws_params
from tradegw_binance.symbols import BinanceSymbolMap
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tradegw_core.errors import AuthenticationError
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.sim.matching import RejectReason

D = Decimal


@asynccontextmanager
async def emulator(**options: Any) -> AsyncIterator[tuple[BinanceEmulator, MarketSimulator]]:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=11)
    lifetime = options.pop("connection_lifetime_s", None)
    cfg = EmulatorConfig(
        venue="binance",
        symbols=("BTC-USDT",),
        simulator=sim,
        options=options,
        connection_lifetime_s=lifetime,
    )
    async with BinanceEmulator(cfg) as emu:
        yield emu, sim


def signed_query(
    emu: BinanceEmulator, params: list[tuple[str, Any]], secret: str | None = None
) -> str:
    cred = emu.credentials[0]
    now = emu.clock.time_ns() // 1_000_000
    return sign_rest(
        [*params, ("recvWindow", 5000), ("timestamp", now)], HmacSigner(secret or cred.api_secret)
    )


@pytest.mark.anyio
async def test_signed_rest_rules_answer_the_venues_errors() -> None:
    async with emulator() as (emu, _), httpx.AsyncClient(base_url=emu.rest_url) as http:
        key = {"X-MBX-APIKEY": emu.credentials[0].api_key}
        q = signed_query(emu, [("symbol", "BTCUSDT"), ("origClientOrderId", "nope")])
        r = await http.get(f"/api/v3/order?{q}", headers=key)
        assert (r.status_code, r.json()["code"]) == (400, -2013)  # valid signature: no such order
        bad = q[:-1] + ("0" if q[-1] != "0" else "1")
        r = await http.get(f"/api/v3/order?{bad}", headers=key)
        assert r.json() == {"code": -1022, "msg": "Signature for this request is not valid."}
        r = await http.get(f"/api/v3/order?{q}")
        assert r.json()["code"] == -2014
        r = await http.get(f"/api/v3/order?{q}", headers={"X-MBX-APIKEY": "other"})
        assert r.json()["code"] == -2015
        old = sign_rest(
            [
                ("symbol", "BTCUSDT"),
                ("origClientOrderId", "x"),
                ("timestamp", emu.clock.time_ns() // 1_000_000 - 10_000),
            ],
            HmacSigner(emu.credentials[0].api_secret),
        )
        r = await http.get(f"/api/v3/order?{old}", headers=key)
        assert r.json()["code"] == -1021
        r = await http.get("/api/v3/depth?symbol=NOPE")
        assert r.json() == {"code": -1121, "msg": "Invalid symbol."}


@pytest.mark.anyio
async def test_adapter_with_a_wrong_secret_gets_an_authentication_error() -> None:
    async with emulator() as (emu, _):
        adapter = BinanceOrderAdapter(emu.client_settings(api_secret="wrong"))
        async with adapter.open():
            with pytest.raises(AuthenticationError, match="-1022"):
                await adapter.submit(
                    OrderRequest(
                        client_order_id="tg-1",
                        consumer_id="c",
                        provider="binance",
                        symbol="BTC-USDT",
                        side=Side.BUY,
                        qty=D("0.001"),
                        price=D("50000"),
                    )
                )


@pytest.mark.anyio
async def test_request_weight_budget_gives_429_with_retry_after() -> None:
    async with (
        emulator(request_weight_per_minute=30) as (emu, _),
        httpx.AsyncClient(base_url=emu.rest_url) as http,
    ):
        assert (await http.get("/api/v3/exchangeInfo")).status_code == 200
        r = await http.get("/api/v3/exchangeInfo")
        assert r.status_code == 429
        assert r.json()["code"] == -1003
        assert int(r.headers["retry-after"]) >= 1


@pytest.mark.anyio
async def test_control_messages_acks_and_numbered_errors() -> None:
    async with emulator() as (emu, _), connect(f"{emu.ws_url}/stream") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
        assert json.loads(await ws.recv()) == {"result": None, "id": 1}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "x2"}))
        assert json.loads(await ws.recv()) == {"result": ["btcusdt@trade"], "id": "x2"}
        await ws.send("{not json")
        assert json.loads(await ws.recv())["code"] == 3
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": []}))
        assert json.loads(await ws.recv())["code"] == 2  # no id


@pytest.mark.anyio
async def test_raw_framing_and_set_property() -> None:
    async with emulator() as (emu, sim), connect(f"{emu.ws_url}/ws/btcusdt@bookTicker") as ws:
        sim.events(1)
        frame = json.loads(await ws.recv())
        assert "stream" not in frame
        assert frame["s"] == "BTCUSDT"
        await ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}))
        while "id" not in (reply := json.loads(await ws.recv())):  # a step may print 2 frames
            assert "stream" not in reply
        assert reply == {"result": None, "id": 5}
        await ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 6}))
        assert json.loads(await ws.recv()) == {"result": True, "id": 6}
        sim.events(1)
        assert json.loads(await ws.recv())["stream"] == "btcusdt@bookTicker"


@pytest.mark.anyio
async def test_more_than_five_messages_per_second_disconnects() -> None:
    async with emulator() as (emu, _), connect(f"{emu.ws_url}/stream") as ws:
        with pytest.raises(ConnectionClosed) as info:  # noqa: PT012 - the close comes mid-loop
            for i in range(10):
                await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            with anyio.fail_after(5):
                while True:
                    await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1008


@pytest.mark.anyio
async def test_depth_ids_align_with_the_rest_snapshot() -> None:
    async with (
        emulator() as (emu, sim),
        connect(f"{emu.ws_url}/stream") as ws,
        httpx.AsyncClient(base_url=emu.rest_url) as http,
    ):
        await ws.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
        )
        await ws.recv()
        sim.events(3)
        snap = decode_depth_snapshot(
            (await http.get("/api/v3/depth?symbol=BTCUSDT&limit=1000")).content
        )
        sim.events(3)
        emu.flush_depth()
        diffs = []
        while not diffs or diffs[-1]["u"] < sim.book("binance", "BTC-USDT").seq:
            diffs.append(json.loads(await ws.recv())["data"])
        kept = [d for d in diffs if d["u"] > snap.lastUpdateId]
        assert kept[0]["U"] <= snap.lastUpdateId + 1 <= kept[0]["u"]
        for a, b in itertools.pairwise(kept):
            assert b["U"] == a["u"] + 1


@pytest.mark.anyio
async def test_user_data_subscription_checks_the_ws_api_signature() -> None:
    async with emulator() as (emu, _), connect(emu.ws_api_url) as ws:
        cred = emu.credentials[0]
        now = emu.clock.time_ns() // 1_000_000
        bad = sign_ws_params({"timestamp": now}, HmacSigner("wrong"), cred.api_key)
        await ws.send(
            json.dumps({"id": 1, "method": "userDataStream.subscribe.signature", "params": bad})
        )
        answer = json.loads(await ws.recv())
        assert answer["status"] == 400
        assert answer["error"]["code"] == -1022
        good = sign_ws_params({"timestamp": now}, HmacSigner(cred.api_secret), cred.api_key)
        await ws.send(
            json.dumps({"id": 2, "method": "userDataStream.subscribe.signature", "params": good})
        )
        assert json.loads(await ws.recv()) == {
            "id": 2,
            "status": 200,
            "result": {"subscriptionId": 0},
        }
        await ws.send(
            json.dumps({"id": 3, "method": "userDataStream.subscribe.signature", "params": good})
        )
        assert json.loads(await ws.recv())["error"]["code"] == -2035
        await ws.send(json.dumps({"id": 4, "method": "userDataStream.unsubscribe"}))
        assert json.loads(await ws.recv())["result"] == {}
        assert json.loads(await ws.recv())["event"]["e"] == "eventStreamTerminated"


@pytest.mark.anyio
async def test_lifetime_end_announces_server_shutdown() -> None:
    async with (
        emulator(connection_lifetime_s=0.2, shutdown_grace_s=0.0) as (emu, _),
        connect(f"{emu.ws_url}/stream") as ws,
    ):
        frame = json.loads(await ws.recv())
        assert frame["stream"] == "!serverShutdown"
        assert frame["data"]["e"] == "serverShutdown"
        with pytest.raises(ConnectionClosed):
            await ws.recv()


def test_execution_report_encoding_round_trips_through_the_adapter() -> None:
    """Every matching-engine event the emulator encodes decodes to the right report."""
    from tradegw_core.sim.matching import Ledger, MatchingEngine

    spec = default_symbol_spec("BTC-USDT")
    sim = MarketSimulator([spec], seed=2)
    from tradegw_core.sim.market import VenueProfile

    sim.add_venue(VenueProfile("binance"))
    ledger = Ledger()
    ledger.deposit("main", "USDT", D(1_000_000))
    engine = MatchingEngine("binance", spec, ledger, sim=sim)
    asks = sim.book("binance", "BTC-USDT").asks
    events = engine.place("main", "c1", Side.BUY, asks[0][1] + spec.lot, asks[1][0])
    from tradegw_binance.emulator_wire import exchange_info

    parser = BinanceParser(
        "binance",
        BinanceSymbolMap.from_exchange_info(json.dumps(exchange_info([spec], 0)), "binance"),
    )
    reports = [
        parser.execution_report(decode_execution_report(json.dumps(execution_report(ev, i))), 0)
        for i, ev in enumerate(events)
    ]
    assert [r.state for r in reports if r] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    assert reports[-1] is not None
    assert reports[-1].cum_qty == asks[0][1] + spec.lot
    dup = engine.place("main", "c2", Side.BUY, D("0.001"), asks[0][0] - 100)
    again = engine.place("main", "c2", Side.BUY, D("0.001"), asks[0][0] - 100)
    assert dup[0].state.value == "new"
    assert again[0].reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert reject_error(again[0]) == (-2010, "Duplicate order sent.")


@pytest.mark.anyio
async def test_ws_api_order_place_status_cancel() -> None:
    async with emulator() as (emu, sim), connect(emu.ws_api_url) as ws:
        cred = emu.credentials[0]
        signer = HmacSigner(cred.api_secret)
        bid = sim.book("binance", "BTC-USDT").bids[-1][0]

        async def call(req_id: int, method: str, params: dict[str, Any], key: Any = signer) -> Any:
            now = emu.clock.time_ns() // 1_000_000
            signed = sign_ws_params({**params, "timestamp": now}, key, cred.api_key)
            await ws.send(json.dumps({"id": req_id, "method": method, "params": signed}))
            return json.loads(await ws.recv())

        place = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "price": str(bid),
            "quantity": "0.00100",
            "newClientOrderId": "tg-ws-1",
        }
        placed = await call(1, "order.place", place)
        assert placed["status"] == 200
        assert placed["result"]["status"] == "NEW"
        again = await call(2, "order.place", place)
        assert again["error"] == {"code": -2010, "msg": "Duplicate order sent."}
        status = await call(
            3, "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "tg-ws-1"}
        )
        assert status["result"]["clientOrderId"] == "tg-ws-1"
        cancel = await call(
            4, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "tg-ws-1"}
        )
        assert cancel["result"]["status"] == "CANCELED"
        assert cancel["result"]["origClientOrderId"] == "tg-ws-1"
        bad = await call(
            5, "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "x"}, HmacSigner("wrong")
        )
        assert bad["error"]["code"] == -1022


@pytest.mark.anyio
async def test_ed25519_key_trades_end_to_end() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tradegw_core.sim.emulator import ApiCredentials

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=11)
    cfg = EmulatorConfig(
        venue="binance",
        symbols=("BTC-USDT",),
        simulator=sim,
        credentials=(ApiCredentials("ed-key", public_pem),),
    )
    async with BinanceEmulator(cfg) as emu:
        settings = emu.client_settings(api_secret=None, ed25519_private_key=private_pem)
        reports: list[Any] = []
        adapter = BinanceOrderAdapter(settings)
        async with anyio.create_task_group() as tg:
            await tg.start(adapter.run, reports.append)  # WS API subscription signed with Ed25519
            bid = sim.book("binance", "BTC-USDT").bids[-1][0]
            ack = await adapter.submit(
                OrderRequest(
                    client_order_id="tg-ed-1",
                    consumer_id="c",
                    provider="binance",
                    symbol="BTC-USDT",
                    side=Side.BUY,
                    qty=D("0.001"),
                    price=bid,
                )
            )
            assert ack.report is not None
            assert ack.report.state is ExecState.ACK
            tg.cancel_scope.cancel()
