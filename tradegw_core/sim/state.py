"""An emulator's account state on disk, so orders and balances survive a restart.

``tradegw emulate --state-dir DIR`` keeps one JSON file per venue, ``DIR/<venue>.json``:
balances (free and locked), every matching engine's open orders (with their place in
the queue, filled lots and locked amount) and recent final orders, the venue-wide order
id counter, the recent fills, each book's last public trade id, and what the venue adds
(:meth:`~tradegw_core.sim.emulator.Emulator.extra_state`). The market itself is not kept:
a restarted emulator's book starts afresh (with a new update id series), as a venue's
does after maintenance.

The file is written atomically (temporary file + rename) when the emulator stops and at
most every ``interval`` seconds while anything changed, and read when it starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.orders import ExecEvent, Liquidity, OrderState, RejectReason

if TYPE_CHECKING:
    from tradegw_core.sim.emulator import Emulator

__all__ = ["event_from_json", "event_to_json", "load_state", "save_state", "state_path"]

VERSION = 1

_DECIMALS = ("price", "qty", "cum_qty", "cum_quote", "cum_fee", "last_qty", "last_price", "fee")


def event_to_json(ev: ExecEvent) -> dict[str, Any]:
    """An :class:`ExecEvent` as JSON-ready values (Decimals as strings)."""
    out = asdict(ev)
    for key in _DECIMALS:
        if out[key] is not None:
            out[key] = str(out[key])
    for key in ("side", "order_type", "time_in_force", "state", "liquidity", "reason"):
        if out[key] is not None:
            out[key] = str(out[key].value)
    return out


def event_from_json(data: Mapping[str, Any]) -> ExecEvent:
    """The inverse of :func:`event_to_json`."""
    d = dict(data)
    for key in _DECIMALS:
        if d[key] is not None:
            d[key] = Decimal(d[key])
    d["side"] = Side(d["side"])
    d["order_type"] = OrderType(d["order_type"])
    d["time_in_force"] = TimeInForce(d["time_in_force"])
    d["state"] = OrderState(d["state"])
    d["liquidity"] = Liquidity(d["liquidity"]) if d["liquidity"] is not None else None
    d["reason"] = RejectReason(d["reason"]) if d["reason"] is not None else None
    return ExecEvent(**d)


def state_path(directory: Path, venue: str) -> Path:
    """Where ``venue``'s state lives under ``directory``."""
    return directory / f"{venue}.json"


def save_state(emulator: Emulator, directory: Path) -> Path:
    """Write ``emulator``'s account state to ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "version": VERSION,
        "venue": emulator.venue,
        "ledger": emulator.ledger.dump(),
        "engines": {symbol: engine.dump() for symbol, engine in emulator.engines.items()},
        "fills": [event_to_json(ev) for ev in emulator.fills],
        "trade_ids": {s: emulator.sim.last_trade_id(emulator.venue, s) for s in emulator.engines},
        "extra": emulator.extra_state(),
    }
    path = state_path(directory, emulator.venue)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_state(emulator: Emulator, directory: Path) -> bool:
    """Restore ``emulator`` from ``directory``; False when there is no state yet.

    Raises ``ValueError`` when the file is not a state file of this venue and version.
    """
    path = state_path(directory, emulator.venue)
    if not path.is_file():
        return False
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != VERSION or data.get("venue") != emulator.venue:
        raise ValueError(f"{path} is not a version {VERSION} state file of {emulator.venue!r}")
    emulator.ledger.load(data["ledger"])
    top = 0
    for symbol, engine_data in data["engines"].items():
        engine = emulator.engines.get(symbol)
        if engine is not None:
            top = max(top, engine.load(engine_data))
    emulator.advance_order_ids(top)
    emulator.fills.clear()
    emulator.fills.extend(event_from_json(f) for f in data["fills"])
    for symbol, trade_id in data["trade_ids"].items():
        if symbol in emulator.engines:
            emulator.sim.advance_trade_id(emulator.venue, symbol, int(trade_id))
    emulator.restore_extra(data.get("extra") or {})
    return True
