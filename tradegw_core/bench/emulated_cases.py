"""Bench cases from tapes of our venue emulators, for what the captures lack.

Recorded at bench time with :func:`~tradegw_core.bench.emulated.record_emulator_run`
(the real gateway against the emulator on loopback, as ``tradegw record`` does):

* Kraken WebSocket v2 ``book`` depth 10, a checksum on every message. cryptofeed 2.4.1
  speaks v1, so it gets the same session as v1 frames (same levels printed at the pair's
  precision, same checksums, ``XBT`` spelling);
* Coinbase Advanced Trade ``level2`` (``l2_data``): both sides get the same frames
  (heartbeats included: ``sequence_num`` counts every channel of a connection);
* Binance ``depth@100ms`` for BTCUSDT with ~10 levels per diff (the emulator's diffs are
  flushed every few market steps), its REST snapshot from the tape.

After the start-up, Binance and Kraken heartbeats are left out of the timed frames on both
sides.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from tradegw_core.bench.captures import BenchCase, PeerInput
from tradegw_core.bench.emulated import Recording, record_emulator_run
from tradegw_core.bench.harness import Sink, TapeCase
from tradegw_core.net.tape import Record

__all__ = ["emulated_cases"]

_BOOK = ["BookSnapshot", "BookUpdate"]


def _text(record: Record) -> str:
    """A frame record's text (binary frames are UTF-8 JSON too)."""
    payload = str(record[3])
    return base64.b64decode(payload).decode() if record[1] == "recvb" else payload


def _split(rec: Recording, is_data: Any) -> tuple[list[Record], int, list[str], list[str]]:
    """The tape less the frames ``is_data`` refuses after the marker; (setup, timed) texts."""
    head = rec.records[: rec.marker]
    frames = ("recv", "recvb")
    tail = [r for r in rec.records[rec.marker :] if r[1] not in frames or is_data(_text(r))]
    setup = [_text(r) for r in head if r[1] in frames and is_data(_text(r))]
    return head + tail, len(head), setup, [_text(r) for r in tail if r[1] in frames]


def _http(rec: Recording, fragment: str) -> str:
    return str(next(r[3] for r in rec.records if r[1] == "http" and fragment in r[2]))


async def _record(venue: str, symbols: list[str], steps: int, **kw: Any) -> Recording:
    sink = Sink(symbols, _BOOK, venue, keep_books=True)
    return await record_emulator_run(venue, sink, steps=steps, symbols=symbols, **kw)


async def kraken_depth10_case(steps: int) -> BenchCase:
    """Kraken v2 depth 10 (tradegw) and the same session as v1 frames (cryptofeed)."""
    symbols = ["BTC-USD", "ETH-USD"]
    rec = await _record("kraken", symbols, steps, overrides={"book_depth": 10})
    records, marker, setup, timed = _split(rec, lambda t: t.startswith('{"channel":"book"'))
    pairs = json.loads(_http(rec, "AssetPairs"))
    by_v2 = {_v2(p["wsname"]): p for p in pairs["result"].values()}
    ids = {name: 100 + i for i, name in enumerate(sorted(by_v2))}
    return BenchCase(
        "Kraken book depth 10 (emulator, v2)",
        TapeCase("kraken", rec.settings, records, marker, symbols, _BOOK),
        PeerInput(
            "kraken",
            [_v1(t, by_v2, ids) for t in timed],
            symbol_info=pairs,
            symbols=symbols,
            setup=[_v1(t, by_v2, ids) for t in setup],
            depth=10,
        ),
        [t.encode() for t in timed],
        note="tradegw: v2 frames; cryptofeed: the same messages as v1 frames",
    )


def _v2(wsname: str) -> str:
    from tradegw_kraken.symbols import ws_v2_name

    return ws_v2_name(wsname)


def _v1(text: str, pairs: dict[str, Any], ids: dict[str, int]) -> str:
    """One v2 ``book`` frame (one symbol) as the v1 frame Kraken sent for it."""
    msg = json.loads(text, parse_float=Decimal)
    (entry,) = msg["data"]
    pair = pairs[entry["symbol"]]
    pdp, qdp = pair["pair_decimals"], pair["lot_decimals"]
    stamp = "1700000000.000000"

    def side(levels: list[dict[str, Any]]) -> list[list[str]]:
        return [[f"{lv['price']:.{pdp}f}", f"{lv['qty']:.{qdp}f}", stamp] for lv in levels]

    wsname = pair["wsname"]
    channel = f"book-{10}"
    head: list[Any] = [ids[entry["symbol"]]]
    if msg["type"] == "snapshot":
        body: list[Any] = [{"as": side(entry["asks"]), "bs": side(entry["bids"])}]
    else:
        parts: list[dict[str, Any]] = []
        if entry["asks"]:
            parts.append({"a": side(entry["asks"])})
        if entry["bids"]:
            parts.append({"b": side(entry["bids"])})
        parts[-1]["c"] = str(entry["checksum"])
        body = parts
    return json.dumps([*head, *body, channel, wsname], separators=(",", ":"))


async def coinbase_level2_case(steps: int) -> BenchCase:
    """Coinbase Advanced Trade ``level2``: the same frames for both sides."""
    symbols = ["BTC-USD", "ETH-USD"]
    rec = await _record("coinbase", symbols, steps)
    # Every frame: sequence_num counts all channels of the connection, so leaving the
    # heartbeats out would be a gap (and a resync) on our side.
    records, marker, setup, timed = _split(rec, lambda t: True)
    products = json.loads(_http(rec, "/market/products"))
    return BenchCase(
        "Coinbase level2 (emulator)",
        TapeCase("coinbase", rec.settings, records, marker, symbols, _BOOK),
        PeerInput("coinbase", timed, symbol_info=products, symbols=symbols, setup=setup),
        [t.encode() for t in timed],
        note=(
            "cryptofeed 2.4.1 takes a snapshot's asks only from side 'ask'; Advanced Trade "
            "sends 'offer', so its asks hold only the levels updates touched"
        ),
    )


async def binance_levels_case(steps: int, flush_every: int = 2) -> BenchCase:
    """Binance BTCUSDT diffs of ~10 levels (emulator), snapshot from the tape."""
    symbols = ["BTC-USDT"]
    rec = await _record(
        "binance",
        symbols,
        steps,
        sim_options={"depth_interval_s": 3600.0},
        flush_every=flush_every,
    )
    records, marker, setup, timed = _split(rec, lambda t: "@depth" in t[:60])
    info = json.loads(_http(rec, "exchangeInfo"))
    snapshot = _http(rec, "/api/v3/depth?symbol=BTCUSDT")
    levels = sum(len(json.loads(t)["data"]["b"]) + len(json.loads(t)["data"]["a"]) for t in timed)
    return BenchCase(
        f"Binance depth BTCUSDT (emulator, ~{levels / max(1, len(timed)):.0f} levels)",
        TapeCase("binance", rec.settings, records, marker, symbols, _BOOK),
        PeerInput("binance", timed, {"BTCUSDT": snapshot}, info, symbols, setup=setup),
        [t.encode() for t in timed],
    )


async def emulated_cases(steps: int) -> list[BenchCase]:
    """The three emulator cases, recorded now."""
    return [
        await binance_levels_case(steps),
        await kraken_depth10_case(steps),
        await coinbase_level2_case(steps),
    ]
