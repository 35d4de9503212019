"""The ``consumer-examples`` plugin: its manifest and hook implementations only.

Imports nothing heavy: the printer's module is imported when a hook runs.
"""

from __future__ import annotations

from typing import Any

from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import API_LEVEL, PluginManifest

__all__ = ["ConsumerExamplesPlugin"]

PRINTER = "printer"
SPREAD = "spread"
MARKET_MAKER = "market_maker"


class ConsumerExamplesPlugin:
    """Registers the example consumers and their settings sections."""

    manifest = PluginManifest(
        id="consumer-examples",
        dist="tradegw-consumer-examples",
        api_level=API_LEVEL,
        description="Example consumers: printer (logs every event it receives)",
    )

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        """Add the ``consumers.printer`` settings section."""
        from tradegw_consumer_examples.printer import PrinterSettings

        registry.add(f"consumers.{PRINTER}", PrinterSettings, plugin_id=plugin_id)

        from tradegw_consumer_examples.market_maker import MarketMakerSettings
        from tradegw_consumer_examples.spread import SpreadSettings

        registry.add(f"consumers.{SPREAD}", SpreadSettings, plugin_id=plugin_id)
        registry.add(f"consumers.{MARKET_MAKER}", MarketMakerSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_consumers(self, registry: Any, plugin_id: str) -> None:
        """Add the ``printer`` consumer factory."""
        from tradegw_consumer_examples.printer import PrinterConsumer

        registry.add(PRINTER, PrinterConsumer, plugin_id=plugin_id)

        from tradegw_consumer_examples.market_maker import MarketMakerConsumer
        from tradegw_consumer_examples.spread import SpreadConsumer

        registry.add(SPREAD, SpreadConsumer, plugin_id=plugin_id)
        registry.add(MARKET_MAKER, MarketMakerConsumer, plugin_id=plugin_id)
