"""Kraken bench cases: the captured v1 depth-1000 session, given to each side in its protocol.

``KRAKEN.ws.50.0`` is a WebSocket v1 session (10 pairs, ``book`` depth 1000, 4,269
checksummed updates). cryptofeed 2.4.1 speaks v1 and gets those frames as captured.
tradegw speaks v2, so it gets the same session as v2 frames: every v1 book message turned
into the v2 ``book`` message with the same levels (the wire's decimal text kept as JSON
numbers), the same checksum, pair names in v2 spelling (``XBT`` -> ``BTC``). v1 snapshots
carry no checksum while v2 ones always do: the converted snapshot's checksum is computed
by the venue's rule. In 2021 the v1 wire printed more decimals than REST's
``pair_decimals`` (XMR/USD: 8 vs 2) and Kraken checksummed that text, so the tape's
``AssetPairs`` answer gives each pair the precisions its wire used.

The subscription acks come from :func:`kraken_acks`, the player's stand-in for the venue's
answers (the capture holds v1 acks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradegw_core.bench.captures import BenchCase, PeerInput, read_capture
from tradegw_core.bench.harness import TapeCase
from tradegw_core.net.tape import Record

__all__ = ["kraken_acks", "kraken_capture_case"]

KRAKEN_REST = "https://api.kraken.com"
_T = "2021-04-17T16:48:52.000000Z"


def kraken_acks(conn: str, text: str) -> Sequence[str]:
    """The v2 answers to a sent request: one ack per symbol, pong to ping."""
    del conn
    msg = json.loads(text)
    method = msg.get("method")
    base: dict[str, Any] = {"method": method, "time_in": _T, "time_out": _T}
    if "req_id" in msg:
        base["req_id"] = msg["req_id"]
    if method == "ping":
        return [json.dumps({**base, "method": "pong"})]
    if method not in ("subscribe", "unsubscribe"):
        return []
    params = msg.get("params", {})
    out = []
    for symbol in params.get("symbol") or [None]:
        result = {k: v for k, v in params.items() if k in ("channel", "depth", "snapshot")}
        if symbol is not None:
            result["symbol"] = symbol
        out.append(json.dumps({**base, "success": True, "result": result}))
    return out


def _v2_name(v1: str) -> str:
    from tradegw_kraken.symbols import ws_v2_name

    return ws_v2_name(v1)


def _levels(entries: list[list[str]]) -> str:
    return ",".join(f'{{"price":{e[0]},"qty":{e[1]}}}' for e in entries)


def _v2_book(frame: list[Any], precisions: dict[str, tuple[int, int]]) -> tuple[str, str, bool]:
    """``(v1 pair, v2 frame text, is_snapshot)`` of one v1 book frame."""
    pair = frame[-1]
    asks: list[list[str]] = []
    bids: list[list[str]] = []
    checksum: int | None = None
    snapshot = False
    stamp = 0.0
    for part in frame[1:-2]:
        for key, value in part.items():
            if key in ("as", "a"):
                asks += value
            elif key in ("bs", "b"):
                bids += value
            elif key == "c":
                checksum = int(value)
            snapshot = snapshot or key in ("as", "bs")
            if key != "c":
                stamp = max([stamp, *(float(e[2]) for e in value)])
    if snapshot:
        checksum = _snapshot_checksum(asks, bids, precisions[pair])
    name = _v2_name(pair)
    kind = "snapshot" if snapshot else "update"
    text = (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{name}",'
        f'"bids":[{_levels(bids)}],"asks":[{_levels(asks)}],"checksum":{checksum},'
        f'"timestamp":"{_rfc3339(stamp)}"}}]}}'
    )
    return pair, text, snapshot


def _rfc3339(seconds: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _snapshot_checksum(
    asks: list[list[str]], bids: list[list[str]], precision: tuple[int, int]
) -> int:
    from tradegw_kraken.checksum import book_checksum

    from tradegw_core.schema.events import Level

    top_asks = sorted((Level(Decimal(p), Decimal(q)) for p, q, *_ in asks), key=_price)[:10]
    top_bids = sorted((Level(Decimal(p), Decimal(q)) for p, q, *_ in bids), key=_price)[::-1]
    return book_checksum(top_asks, top_bids[:10], *precision)


def _price(level: Any) -> Decimal:
    return level.price  # type: ignore[no-any-return]


def _wire_precision(entry: list[str]) -> tuple[int, int]:
    price, qty = entry[0], entry[1]
    return len(price.split(".")[1]) if "." in price else 0, (
        len(qty.split(".")[1]) if "." in qty else 0
    )


def kraken_capture_case(data: Path) -> BenchCase:
    """The v1 depth-1000 session: updates timed, snapshots set-up."""
    ws = read_capture(data / "cryptofeed/KRAKEN.ws.50.0")
    books = [(ts, json.loads(p), p) for ts, p in ws.frames if p.startswith("[")]
    precisions: dict[str, tuple[int, int]] = {}
    for _, frame, _ in books:
        part = frame[1]
        if "as" in part and frame[-1] not in precisions:
            precisions[frame[-1]] = _wire_precision(part["as"][0])
    pairs_body = json.loads(read_capture(data / "cryptofeed/KRAKEN.0").http[0][2])
    result = {}
    for key, pair in pairs_body["result"].items():
        if pair.get("wsname") in precisions:
            price_dp, qty_dp = precisions[pair["wsname"]]
            result[key] = {**pair, "pair_decimals": price_dp, "lot_decimals": qty_dp}
    asset_pairs = json.dumps({"error": [], "result": result})
    canonical = sorted(_v2_name(p).replace("/", "-") for p in precisions)
    records: list[Record] = [
        (0, "http", f"GET {KRAKEN_REST}/0/public/AssetPairs", asset_pairs, 200),
        (0, "open", "kraken-md0#1", "", None),
    ]
    setup_peer: list[str] = []
    timed_peer: list[str] = []
    raw: list[bytes] = []
    last_snapshot = max(i for i, (_, f, _) in enumerate(books) if "as" in f[1])
    marker = 0
    for i, (ts, frame, v1_text) in enumerate(books):
        _, text, _ = _v2_book(frame, precisions)
        if i == last_snapshot + 1:
            marker = len(records)
        records.append((int(ts * 1e9), "recv", "kraken-md0#1", text, None))
        if i <= last_snapshot:
            setup_peer.append(v1_text)
        else:
            timed_peer.append(v1_text)
            raw.append(text.encode())
    settings = {
        "symbols": canonical,
        "rest_url": KRAKEN_REST,
        "book_depth": 1000,
        "connections_per_stream": 1,
    }
    return BenchCase(
        "Kraken book depth 1000 (v1 capture)",
        TapeCase(
            "kraken",
            settings,
            records,
            marker,
            canonical,
            ["BookSnapshot", "BookUpdate"],
            responder=kraken_acks,
            gate=2,
        ),
        PeerInput(
            "kraken",
            timed_peer,
            symbol_info=pairs_body,
            symbols=canonical,
            setup=setup_peer,
            depth=1000,
        ),
        raw,
        note="tradegw: the session as v2 frames; cryptofeed: the v1 frames",
    )
