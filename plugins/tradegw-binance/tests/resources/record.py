"""Record the fixture files in this folder from the Binance emulator (re-run to refresh).

Usage: ``python plugins/tradegw-binance/tests/resources/record.py``. Writes
``binance_<channel>_<variant>.json``: frames exactly as the emulator sent them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
from tradegw_binance.emulator import BinanceEmulator
from tradegw_binance.signing import HmacSigner, sign_rest, sign_ws_params
from websockets.asyncio.client import connect

from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

HERE = Path(__file__).resolve().parent
STREAMS = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m"]


def write(name: str, obj: Any) -> None:
    (HERE / name).write_text(json.dumps(obj, indent=1) + "\n")


async def record() -> None:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=42)
    cfg = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), simulator=sim)
    async with BinanceEmulator(cfg) as emu, httpx.AsyncClient(base_url=emu.rest_url) as http:
        cred = emu.credentials[0]
        frames: dict[str, list[Any]] = {s: [] for s in STREAMS}
        async with connect(f"{emu.ws_url}/stream") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": STREAMS, "id": 1}))
            await ws.recv()
            sim.events(5)
            snap = (await http.get("/api/v3/depth?symbol=BTCUSDT&limit=1000")).json()
            for _ in range(6):
                sim.events(5)
                emu.flush_depth()
            with anyio.move_on_after(1.0):
                while True:
                    frame = json.loads(await ws.recv())
                    frames[frame["stream"]].append(frame)
        write("binance_depth_emulator.json", {"snapshot": snap, "frames": frames[STREAMS[0]]})
        write("binance_trade_emulator.json", frames[STREAMS[1]])
        write("binance_bookTicker_emulator.json", frames[STREAMS[2]])
        write("binance_kline_emulator.json", frames[STREAMS[3]])

        async with connect(emu.ws_api_url) as api:
            now = emu.clock.time_ns() // 1_000_000
            params = sign_ws_params({"timestamp": now}, HmacSigner(cred.api_secret), cred.api_key)
            await api.send(
                json.dumps(
                    {"id": "u1", "method": "userDataStream.subscribe.signature", "params": params}
                )
            )
            await api.recv()
            asks = sim.book("binance", "BTC-USDT").asks
            qty = asks[0][1] + Decimal("0.00001")
            query = sign_rest(
                [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                 ("timeInForce", "GTC"), ("quantity", qty), ("price", asks[1][0]),
                 ("newClientOrderId", "tg-rec-1"), ("newOrderRespType", "FULL"),
                 ("timestamp", now)],
                HmacSigner(cred.api_secret),
            )  # fmt: skip
            answer = await http.post(f"/api/v3/order?{query}",
                                     headers={"X-MBX-APIKEY": cred.api_key})  # fmt: skip
            write("binance_order_full.json", answer.json())
            reports = [json.loads(await api.recv()) for _ in range(3)]
            write("binance_executionReport_fill.json", reports)


if __name__ == "__main__":
    anyio.run(record)
