"""Venue emulator kit: market simulator, matching engine, loopback server base, faults.

Venue plugins build their emulators on :class:`Emulator` (see :mod:`.emulator` for an
example) and register the class under their venue name in ``tradegw_register_emulators``.
"""

from __future__ import annotations

from tradegw_core.sim.connection import WsConnection
from tradegw_core.sim.emulator import (
    DEFAULT_SYMBOLS,
    ApiCredentials,
    Emulator,
    EmulatorConfig,
    EmulatorFactory,
)
from tradegw_core.sim.faults import (
    AcceptThenTimeout,
    Close,
    Corrupt,
    Delay,
    Drop,
    Duplicate,
    FaultPlan,
    RejectOrder,
    Reorder,
    Slow,
    Stall,
    Status,
)
from tradegw_core.sim.group import EmulatorStartError, start_emulators
from tradegw_core.sim.http import HttpRequest, HttpResponse, Route
from tradegw_core.sim.ledger import Balance, Ledger
from tradegw_core.sim.market import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    MarketEvent,
    MarketSimulator,
    SimTrade,
    SymbolSpec,
    VenueProfile,
    default_symbol_spec,
)
from tradegw_core.sim.matching import (
    ExecEvent,
    Liquidity,
    MatchingEngine,
    OrderIntent,
    OrderState,
    RejectReason,
)

__all__ = [
    "DEFAULT_SYMBOLS",
    "AcceptThenTimeout",
    "ApiCredentials",
    "Balance",
    "BookDelta",
    "BookSnapshot",
    "Close",
    "Corrupt",
    "Delay",
    "Drop",
    "Duplicate",
    "Emulator",
    "EmulatorConfig",
    "EmulatorFactory",
    "EmulatorStartError",
    "ExecEvent",
    "FaultPlan",
    "HttpRequest",
    "HttpResponse",
    "Ledger",
    "LevelChange",
    "Liquidity",
    "MarketEvent",
    "MarketSimulator",
    "MatchingEngine",
    "OrderIntent",
    "OrderState",
    "RejectOrder",
    "RejectReason",
    "Reorder",
    "Route",
    "SimTrade",
    "Slow",
    "Stall",
    "Status",
    "SymbolSpec",
    "VenueProfile",
    "WsConnection",
    "default_symbol_spec",
    "start_emulators",
]
