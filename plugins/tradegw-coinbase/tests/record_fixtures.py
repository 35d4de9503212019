"""Record ``resources/coinbase_<channel>_<variant>.json`` from this project's own emulator.

Run from the repository root:
``.venv/bin/python plugins/tradegw-coinbase/tests/record_fixtures.py``.
Each file holds one frame exactly as the emulator sent it over loopback (pretty-printed).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from tradegw_coinbase.emulator import CoinbaseEmulator
from tradegw_coinbase.jwt import build_jwt, load_private_key
from websockets.asyncio.client import connect

from tradegw_core.schema.events import Side
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

OUT = Path(__file__).resolve().parent / "resources"


async def capture() -> dict[tuple[str, str], Any]:
    """Drive the emulator through every channel; one frame per (channel, variant)."""
    sim = MarketSimulator([default_symbol_spec("BTC-USD")], seed=11, rate=50)
    config = EmulatorConfig(venue="coinbase", symbols=("BTC-USD",), seed=11, simulator=sim)
    wanted = {
        ("subscriptions", "ack"),
        ("l2_data", "snapshot"),
        ("l2_data", "update"),
        ("market_trades", "update"),
        ("ticker", "update"),
        ("candles", "update"),
        ("heartbeats", "update"),
        ("user", "snapshot"),
        ("user", "update"),
        ("error", "auth"),
    }
    saved: dict[tuple[str, str], Any] = {}
    async with CoinbaseEmulator(config) as emu:
        cred = emu.credentials[0]
        key = load_private_key(cred.api_secret)
        token = build_jwt(cred.api_key, key, now=emu.clock.time_ns() // 10**9)
        async with connect(emu.ws_url) as ws:
            for channel in ("heartbeats", "level2", "market_trades", "ticker", "candles"):
                msg: dict[str, Any] = {"type": "subscribe", "channel": channel}
                if channel != "heartbeats":
                    msg["product_ids"] = ["BTC-USD"]
                await ws.send(json.dumps(msg))
            await ws.send(json.dumps({"type": "subscribe", "channel": "user", "jwt": token}))
            await ws.send(json.dumps({"type": "subscribe", "channel": "user", "jwt": "x.y.z"}))
            traded = False
            with anyio.fail_after(10):
                while not wanted <= saved.keys():
                    if not traded and ("user", "snapshot") in saved:
                        # The user subscription is live: trade and move the market.
                        traded = True
                        price, size = sim.book("coinbase", "BTC-USD", depth=1).asks[0]
                        engine = emu.engines["BTC-USD"]
                        engine.place("main", "fixture-1", Side.BUY, size + Decimal("0.001"), price)
                        for _ in range(200):
                            sim.step()
                    frame = json.loads(await ws.recv())
                    channel = frame.get("channel", frame.get("type"))
                    if channel == "error":
                        variant = "auth"
                    elif channel == "subscriptions":
                        variant = "ack"
                    elif channel == "heartbeats":
                        variant = "update"
                    else:
                        variant = frame["events"][0].get("type", "update")
                    saved.setdefault((channel, variant), frame)
    return {k: v for k, v in saved.items() if k in wanted}


def record(out: Path = OUT) -> list[str]:
    """Capture and write ``coinbase_<channel>_<variant>.json`` files; return their names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for (channel, variant), frame in sorted(anyio.run(capture).items()):
        name = f"coinbase_{channel}_{variant}.json"
        (out / name).write_text(json.dumps(frame, indent=2) + "\n")
        names.append(name)
    return names


if __name__ == "__main__":
    print("\n".join(record()))
