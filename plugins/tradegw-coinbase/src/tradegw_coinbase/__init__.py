"""tradegw plugin for Coinbase Advanced Trade (market data, orders, emulator).

Importing this package is cheap: the plugin entry point is ``tradegw_coinbase.plugin``,
and the modules that need websockets or httpx are imported only when used.
"""

from __future__ import annotations

__all__: list[str] = []
