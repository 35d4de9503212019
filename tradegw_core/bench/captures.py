"""The bench's inputs: real captures from ``../shared/data`` (read in place) made into tapes.

The captures are cryptofeed raw-data recordings (``shared/data/SOURCES.md``): one line per
frame received (``TS: PAYLOAD``), sent (``URL <- TS: PAYLOAD``), connection opened
(``URL <-> TS``) or REST answer read (``URL -> TS: BODY``). A case turns one into a tape
for our provider (its start-up REST answers and subscription acks first, then the venue's
frames and REST snapshots merged in receive order) and the frame list cryptofeed gets.

Binance: the three combined-stream sessions with their ``/api/v3/depth`` snapshots
(``BINANCE``, ``BINANCE_US``, ``BINANCE_TR``: 11 symbols, ~2 levels per diff), one after
the other on one connection; ``aggTrade`` frames of the same sessions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradegw_core.bench.harness import TapeCase
from tradegw_core.net.tape import Record

__all__ = ["Capture", "PeerInput", "binance_cases", "read_capture"]

BINANCE_REST = "https://api.binance.com"
_BINANCE_SESSIONS = ("BINANCE", "BINANCE_US", "BINANCE_TR")


@dataclass
class Capture:
    """One cryptofeed capture file: frames received and REST answers, in file order."""

    frames: list[tuple[float, str]] = field(default_factory=list)
    http: list[tuple[float, str, str]] = field(default_factory=list)
    """``(ts, url, body)``."""


def read_capture(path: Path) -> Capture:
    """Parse one capture (sent frames and connection lines are left out)."""
    cap = Capture()
    with path.open(encoding="utf-8") as lines:
        for raw in lines:
            line = raw.rstrip("\n")
            if not line:
                continue
            if line[0].isdigit():
                ts, payload = line.split(": ", 1)
                cap.frames.append((float(ts), payload))
            elif " -> " in line.split(": ", 1)[0]:
                url, rest = line.split(" -> ", 1)
                ts, body = rest.split(": ", 1)
                cap.http.append((float(ts), url, body))
    return cap


@dataclass
class PeerInput:
    """What cryptofeed gets for a case: its frames and the REST answers it will ask for."""

    venue: str
    frames: list[str]
    snapshots: dict[str, str] = field(default_factory=dict)
    """Venue symbol -> REST depth body."""
    symbol_info: Any = None
    """The venue's symbol listing (exchangeInfo / AssetPairs) for cryptofeed's symbol map."""
    symbols: list[str] = field(default_factory=list)
    """cryptofeed's normalized symbols."""
    setup: list[str] = field(default_factory=list)
    """Frames played untimed first (what tradegw's tape plays before its marker)."""
    trades: bool = False
    """Subscribe cryptofeed's trades channel instead of its book."""
    depth: int = 0
    """The subscribed book depth, where the venue has one (Kraken)."""


@dataclass
class BenchCase:
    """One row of the table: tradegw's tape and cryptofeed's input of the same session."""

    name: str
    tape: TapeCase
    peer: PeerInput | None
    raw_frames: list[bytes]
    """The timed frames as bytes (for the ``orjson.loads`` baseline)."""
    note: str = ""


def _stream(payload: str) -> str:
    head = payload[:80]
    start = head.find('"stream":"') + 10
    return head[start : head.find('"', start)]


def _exchange_info(data: Path, symbols: Iterable[str]) -> dict[str, Any]:
    wanted = set(symbols)
    found: dict[str, Any] = {}
    base: dict[str, Any] = {}
    for name in ("BINANCE.0", "BINANCE_US.0"):
        cap = read_capture(data / name)
        body = json.loads(cap.http[0][2])
        base = base or body
        for sym in body["symbols"]:
            if sym["symbol"] in wanted and sym["symbol"] not in found:
                found[sym["symbol"]] = sym
    info = dict(base)
    info["symbols"] = [found[s] for s in sorted(found)]
    return info


def _canonical(info: dict[str, Any], venue_symbol: str) -> str:
    sym = next(s for s in info["symbols"] if s["symbol"] == venue_symbol)
    return f"{sym['baseAsset']}-{sym['quoteAsset']}"


def binance_cases(data: Path, *, trade_copies: int = 40) -> list[BenchCase]:
    """Binance depth diffs (11 symbols) and aggTrade, from the three captured sessions.

    Depth: each session's frames up to its last REST snapshot are set-up (untimed, on both
    sides: every book is live when the clock starts); the diffs after it are timed.
    aggTrade: the 13 captured trades, ``trade_copies`` times over with the aggregate id
    shifted per copy (a repeated id would be dropped as a duplicate).
    """
    setup: list[tuple[float, str, str]] = []  # (ts, "recv" or venue symbol, payload/body)
    timed: list[tuple[float, str, str]] = []
    trades: list[str] = []
    snapshots: dict[str, str] = {}
    offset = 0.0
    for session in _BINANCE_SESSIONS:
        ws = read_capture(data / f"cryptofeed/{session}.ws.1.0")
        rest = read_capture(data / f"cryptofeed/{session}.http.0.0")
        t0 = ws.frames[0][0]
        merged: list[tuple[float, str, str]] = []
        for ts, payload in ws.frames:
            stream = _stream(payload)
            if "@depth" in stream:
                merged.append((offset + ts - t0, "recv", payload))
            elif stream.endswith("@aggTrade"):
                trades.append(payload)
        for ts, url, body in rest.http:
            symbol = url.split("symbol=", 1)[1].split("&", 1)[0]
            snapshots[symbol] = body
            merged.append((offset + ts - t0, symbol, body))
        merged.sort(key=lambda item: item[0])
        last_snapshot = max(i for i, item in enumerate(merged) if item[1] != "recv")
        setup += merged[: last_snapshot + 1]
        timed += merged[last_snapshot + 1 :]
        offset = merged[-1][0] + 1.0
    venue_symbols = sorted(snapshots)
    info = _exchange_info(data / "cryptofeed", venue_symbols)
    canonical = [_canonical(info, s) for s in venue_symbols]
    settings = {"symbols": canonical, "rest_url": BINANCE_REST, "depth": 1000}
    info_body = json.dumps(info)

    def tape(
        pre: list[tuple[float, str, str]], body: list[tuple[float, str, str]], names: list[str]
    ) -> tuple[list[Record], int]:
        recs: list[Record] = [
            (0, "http", f"GET {BINANCE_REST}/api/v3/exchangeInfo", info_body, 200),
            (0, "open", "binance-0.0#1", "", None),
            (0, "send", "binance-0.0#1", json.dumps(names), None),
            (0, "recv", "binance-0.0#1", '{"result":null,"id":1}', None),
        ]
        marker = 0
        for part in (pre, body):
            marker = len(recs)
            for ts, kind, what in part:
                ns = int(ts * 1e9) + 1
                if kind == "recv":
                    recs.append((ns, "recv", "binance-0.0#1", what, None))
                else:
                    url = f"GET {BINANCE_REST}/api/v3/depth?symbol={kind}&limit=1000"
                    recs.append((ns, "http", url, what, 200))
        return recs, marker

    depth_names = [f"{s.lower()}@depth@100ms" for s in venue_symbols]
    depth_records, depth_marker = tape(setup, timed, depth_names)
    copies = [_shift_agg_id(p, k) for k in range(trade_copies) for p in trades]
    trade_body = [(i * 0.001, "recv", p) for i, p in enumerate(copies)]
    trade_names = [f"{s.lower()}@trade" for s in venue_symbols]
    trade_records, trade_marker = tape([], trade_body, trade_names)
    pre_frames = [what for _, kind, what in setup if kind == "recv"]
    depth_frames = [what for _, kind, what in timed if kind == "recv"]
    return [
        BenchCase(
            "Binance depth, 11-symbol capture",
            TapeCase(
                "binance",
                settings,
                depth_records,
                depth_marker,
                canonical,
                ["BookSnapshot", "BookUpdate"],
            ),
            PeerInput("binance", depth_frames, snapshots, info, canonical, setup=pre_frames),
            [f.encode() for f in depth_frames],
        ),
        BenchCase(
            "Binance aggTrade",
            TapeCase("binance", settings, trade_records, trade_marker, canonical, ["Trade"]),
            PeerInput("binance", copies, {}, info, canonical, trades=True),
            [f.encode() for f in copies],
            note=f"{len(trades)} captured trades x {trade_copies}, aggregate ids shifted",
        ),
    ]


def _shift_agg_id(payload: str, k: int) -> str:
    """The same aggTrade frame with its aggregate id ``a`` moved up by ``k`` million."""
    if k == 0:
        return payload
    msg = json.loads(payload)
    msg["data"]["a"] += k * 1_000_000
    return json.dumps(msg, separators=(",", ":"))
