"""Checks every plugin's test suite makes: its hooks register, its import stays cheap.

::

    regs = registries_for(KrakenPlugin(), "kraken")
    assert regs.settings.get("providers.kraken") is KrakenSettings

    assert modules_pulled_in("tradegw_kraken.plugin", ("websockets", "httpx")) == []
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from tradegw_core.plugin.host import TradegwPluginManager
from tradegw_core.plugin.registries import Registries

__all__ = ["modules_pulled_in", "registries_for"]


def registries_for(plugin: object, plugin_id: str) -> Registries:
    """Fresh :class:`Registries` filled by ``plugin``'s hooks, as start-up fills them.

    The plugin goes through the gateway's plugin manager under ``plugin_id``, so a
    forbidden hookimpl raises ``PluginError`` and a failing hook ``PluginLoadError``.
    """
    manager = TradegwPluginManager()
    manager.register(plugin, plugin_id)
    registries = Registries()
    manager.call_registration_hooks([plugin_id], registries)
    return registries


def modules_pulled_in(module: str, candidates: Sequence[str], timeout_s: float = 30.0) -> list[str]:
    """Import ``module`` in a fresh interpreter; return which ``candidates`` it loaded.

    Use it to keep plugin discovery cheap: the plugin module must not import network or
    other heavy libraries before the gateway asks for a provider.
    """
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print('\\n'.join(m for m in {tuple(candidates)!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=timeout_s
    )
    return out.stdout.split()
