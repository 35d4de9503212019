"""The Kraken emulator speaks the venue's wire and rules (raw WebSocket and HTTP clients)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from tradegw_kraken.book import KrakenBookAssembler
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.parsing import KrakenDecoders
from websockets.asyncio.client import ClientConnection, connect

from tradegw_core.schema.events import BookUpdate, Side
from tradegw_core.sim.emulator import ApiCredentials, EmulatorConfig
from tradegw_core.sim.market import BookDelta, LevelChange, SimTrade

pytestmark = pytest.mark.anyio

# test-vectors.md 3.1: the documentation key, nonce and body.
DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def _config(**options: Any) -> EmulatorConfig:
    return EmulatorConfig(
        venue="kraken", symbols=("BTC-USD",), seed=4, rate=0.001,
        credentials=(ApiCredentials("doc-key", DOC_SECRET),), options=options,
    )  # fmt: skip


@pytest.fixture
async def emu() -> AsyncIterator[KrakenEmulator]:
    async with KrakenEmulator(_config()) as emulator:
        yield emulator


async def _post(emu: KrakenEmulator, body: str, sign: str) -> Any:
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        resp = await http.post(
            "/0/private/AddOrder", content=body,
            headers={"API-Key": "doc-key", "API-Sign": sign,
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
    assert resp.status_code == 200  # Kraken reports API errors with HTTP 200
    return resp.json()


async def test_documented_signature_is_accepted_and_any_change_refused(emu: KrakenEmulator) -> None:
    ok = await _post(emu, DOC_BODY, DOC_SIGN)
    assert ok["error"] == []
    assert ok["result"]["txid"]
    assert emu.rest.calls["AddOrder"] == 1
    tampered = DOC_BODY.replace("volume=1.25", "volume=1.26")
    assert (await _post(emu, tampered, DOC_SIGN))["error"] == ["EAPI:Invalid signature"]
    bad_sign = ("5" + DOC_SIGN[1:]) if DOC_SIGN[0] != "5" else ("4" + DOC_SIGN[1:])
    assert (await _post(emu, DOC_BODY, bad_sign))["error"] == ["EAPI:Invalid signature"]
    # The same (validly signed) nonce again: refused, the order is not placed twice.
    assert (await _post(emu, DOC_BODY, DOC_SIGN))["error"] == ["EAPI:Invalid nonce"]
    assert emu.rest.calls["AddOrder"] == 1


async def _next(ws: ClientConnection, channel: str | None = None, method: str | None = None) -> Any:
    with anyio.fail_after(5):
        while True:
            msg = json.loads(await ws.recv())
            if (channel and msg.get("channel") == channel) or (
                method and msg.get("method") == method
            ):
                return msg


async def test_ws_status_ping_acks_refusals_and_heartbeats(emu: KrakenEmulator) -> None:
    async with connect(emu.ws_url) as ws:
        first = json.loads(await ws.recv())
        assert first["channel"] == "status"
        assert first["data"][0]["system"] == "online"
        await ws.send(json.dumps({"method": "ping", "req_id": 101}))
        pong = await _next(ws, method="pong")
        assert pong["req_id"] == 101
        sub = {"channel": "book", "symbol": ["BTC/USD"], "depth": 27}
        await ws.send(json.dumps({"method": "subscribe", "params": sub, "req_id": 1}))
        refused = await _next(ws, method="subscribe")
        assert refused["success"] is False
        assert refused["error"] == "Subscription depth not supported"
        sub = {"channel": "trade", "symbol": ["BTC/USD", "XBT/USD"]}
        await ws.send(json.dumps({"method": "subscribe", "params": sub, "req_id": 2}))
        acks = [await _next(ws, method="subscribe"), await _next(ws, method="subscribe")]
        assert [a["success"] for a in acks] == [True, False]  # one ack per symbol
        assert acks[0]["result"] == {"channel": "trade", "symbol": "BTC/USD"}
        assert acks[1]["symbol"] == "XBT/USD"  # v2 wants BTC/USD
        # Once something is subscribed, heartbeats flow and the socket stays alive.
        assert (await _next(ws, channel="heartbeat")) == {"channel": "heartbeat"}


async def test_shuffled_update_levels_still_verify() -> None:
    async with KrakenEmulator(_config(shuffle_levels=True)) as emu, connect(emu.ws_url) as ws:
        sub = {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}
        await ws.send(json.dumps({"method": "subscribe", "params": sub, "req_id": 1}))
        dec = KrakenDecoders()
        asm = KrakenBookAssembler(emu.pairs["BTC-USD"].instrument, depth=10)
        snapshot = await _next(ws, channel="book")
        asm.apply_snapshot(dec.book_data(dec.decode_frame(json.dumps(snapshot)))[0], 0)
        book = emu.books["BTC-USD"]
        for step in range(10):
            # several levels change at once, and a better bid pushes one out of the depth
            bids, asks = book.top("bids", 3), book.top("asks", 3)
            changes = [LevelChange(Side.BUY, lv.price, lv.qty + 1) for lv in bids]
            changes += [LevelChange(Side.SELL, lv.price, Decimal(0)) for lv in asks[:2]]
            changes.append(LevelChange(Side.BUY, bids[0].price + Decimal("0.01"), Decimal(1)))
            emu.on_market_event(BookDelta("kraken", "BTC-USD", step, step, 0, tuple(changes)))
            frame = dec.decode_frame(json.dumps(await _next(ws, channel="book")))
            (out,) = asm.apply_diff(dec.book_data(frame)[0], 0)
            assert isinstance(out, BookUpdate), out
        assert asm.synced


async def test_trades_carry_full_precision(emu: KrakenEmulator) -> None:
    async with connect(emu.ws_url) as ws:
        sub = {"channel": "trade", "symbol": ["BTC/USD"]}
        await ws.send(json.dumps({"method": "subscribe", "params": sub, "req_id": 1}))
        await _next(ws, method="subscribe")
        while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
            pass
        raw = await ws.recv()
        while '"trade"' not in str(raw):
            raw = await ws.recv()
        price_text = str(raw).split('"price":')[1].split(",")[0]
        assert len(price_text.split(".")[1]) == 2  # BTC-USD price precision, zeros kept
