"""Record the fixture files in this folder from the Kraken emulator (re-run to refresh).

Usage: ``python plugins/tradegw-kraken/tests/resources/record.py``. Writes the frames
exactly as the emulator sent them (raw text: Kraken's decimals keep their trailing zeros,
which the checksum depends on); a multi-frame file is a JSON array with one frame a line:

* ``kraken_status_online.json``: the ``status`` frame sent on connect;
* ``kraken_subscribe_ack_book.json`` / ``kraken_subscribe_error_depth.json``: the acks of
  a ``book`` depth-10 subscribe and of a refused depth-7 one;
* ``kraken_book_snapshot_depth10.json`` / ``kraken_book_updates_depth10.json``: the
  snapshot and the next five updates;
* ``kraken_rest_addorder_ok.json``: the signed ``AddOrder`` answer of a buy sweeping two
  ask levels; ``kraken_executions_sweep_fill.json``: its ``executions`` updates, from
  ``pending_new`` to the ``trade`` + ``filled`` two-step.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.signing import api_sign
from websockets.asyncio.client import ClientConnection, connect

from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

HERE = Path(__file__).resolve().parent
SYMBOL = "BTC-USD"


def write(name: str, text: str) -> None:
    (HERE / name).write_text(text.rstrip("\n") + "\n")


def write_frames(name: str, frames: list[str]) -> None:
    write(name, "[\n" + ",\n".join(frames) + "\n]")


async def next_frame(ws: ClientConnection, **match: Any) -> str:
    """The next raw frame whose top-level fields equal ``match`` (skips heartbeats...)."""
    with anyio.fail_after(5):
        while True:
            raw = str(await ws.recv())
            msg = json.loads(raw)
            if all(msg.get(k) == v for k, v in match.items()):
                return raw


async def private(emu: KrakenEmulator, http: httpx.AsyncClient, path: str, **form: Any) -> Any:
    cred = emu.credentials[0]
    body = urlencode({"nonce": emu.clock.time_ns() // 1_000_000, **form})
    sign = api_sign(path, body.split("&", 1)[0].split("=", 1)[1], body, cred.api_secret)
    headers = {"API-Key": cred.api_key, "API-Sign": sign,
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    response = await http.post(path, content=body, headers=headers)
    response.raise_for_status()
    return response.json()


async def record() -> None:
    sim = MarketSimulator([default_symbol_spec(SYMBOL)], seed=42)
    cfg = EmulatorConfig(venue="kraken", symbols=(SYMBOL,), simulator=sim)
    async with KrakenEmulator(cfg) as emu, httpx.AsyncClient(base_url=emu.rest_url) as http:
        pair = emu.pairs[SYMBOL].ws_name
        async with connect(emu.ws_url) as ws:
            write("kraken_status_online.json", await next_frame(ws, channel="status"))
            book = {"channel": "book", "symbol": [pair], "depth": 10}
            await ws.send(json.dumps({"method": "subscribe", "params": book, "req_id": 1}))
            write("kraken_subscribe_ack_book.json", await next_frame(ws, req_id=1))
            snapshot = await next_frame(ws, channel="book", type="snapshot")
            write("kraken_book_snapshot_depth10.json", snapshot)
            refused = {**book, "depth": 7}
            await ws.send(json.dumps({"method": "subscribe", "params": refused, "req_id": 2}))
            write("kraken_subscribe_error_depth.json", await next_frame(ws, req_id=2))
            updates: list[str] = []
            while len(updates) < 5:
                sim.events(1)
                with anyio.move_on_after(0.2):
                    while True:
                        updates.append(await next_frame(ws, channel="book", type="update"))
            write_frames("kraken_book_updates_depth10.json", updates[:5])

        token = (await private(emu, http, "/0/private/GetWebSocketsToken"))["result"]["token"]
        async with connect(emu.ws_url) as ws:
            sub = {"channel": "executions", "token": token, "snap_orders": True}
            await ws.send(json.dumps({"method": "subscribe", "params": sub, "req_id": 1}))
            await next_frame(ws, channel="executions", type="snapshot")
            asks = sim.book("kraken", SYMBOL).asks
            qty = asks[0][1] + (asks[1][1] / 2).quantize(Decimal("0.00001"))
            answer = await private(
                emu, http, "/0/private/AddOrder", ordertype="limit", type="buy",
                volume=str(qty), pair=emu.pairs[SYMBOL].rest_name, price=str(asks[1][0]),
                cl_ord_id="tg-rec-0001",
            )  # fmt: skip
            write("kraken_rest_addorder_ok.json", json.dumps(answer))
            frames: list[str] = []
            while not any(e["exec_type"] == "filled" for e in json.loads(frames[-1])["data"]) \
                    if frames else True:  # fmt: skip
                frames.append(await next_frame(ws, channel="executions", type="update"))
            write_frames("kraken_executions_sweep_fill.json", frames)


if __name__ == "__main__":
    anyio.run(record)
