"""The emulator control endpoint: status and fault scripting over HTTP.

``GET /__emulator__/status`` answers the venue, market step, live connections, open orders
and balances; ``POST /__emulator__/faults`` adds a rule described as JSON (see
:func:`~tradegw_core.sim.faults.rule_from_spec`), ``DELETE /__emulator__/faults`` removes
all. Handy against ``tradegw emulate``::

    curl -X POST localhost:PORT/__emulator__/faults \\
         -d '{"target": "ws", "action": "drop", "contains": "depthUpdate"}'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradegw_core.sim.faults import rule_from_spec
from tradegw_core.sim.http import CONTROL_PREFIX, HttpRequest, HttpResponse, Route

if TYPE_CHECKING:
    from tradegw_core.sim.emulator import Emulator

__all__ = ["control_routes"]


def control_routes(emulator: Emulator) -> list[Route]:
    """The control routes of ``emulator`` (HTTP faults never apply to them)."""

    async def status(request: HttpRequest) -> HttpResponse:
        ledger = emulator.ledger
        accounts = {
            account: {
                asset: {"free": b.free, "locked": b.locked}
                for asset, b in ledger.balances(account).items()
            }
            for account in ledger.accounts()
        }
        return HttpResponse.json(
            {
                "venue": emulator.venue,
                "step": emulator.sim.step_count,
                "connections": len(emulator.connections),
                "open_orders": sum(len(e.open_orders()) for e in emulator.engines.values()),
                "accounts": accounts,
            }
        )

    async def add_fault(request: HttpRequest) -> HttpResponse:
        try:
            spec = request.json()
            if not isinstance(spec, dict):
                raise ValueError("a fault spec is a JSON object")
            rule_from_spec(emulator.faults, spec)
        except ValueError as exc:
            return HttpResponse.json({"error": str(exc)}, 400)
        return HttpResponse.json({"ok": True})

    async def clear_faults(request: HttpRequest) -> HttpResponse:
        emulator.faults.clear()
        return HttpResponse.json({"ok": True})

    return [
        Route("GET", CONTROL_PREFIX + "status", status),
        Route("POST", CONTROL_PREFIX + "faults", add_fault),
        Route("DELETE", CONTROL_PREFIX + "faults", clear_faults),
    ]
