"""The ``consumer-examples`` plugin: its manifest and hook implementations only.

Three example consumers: ``printer`` (logs what it receives), ``spread`` (best cross-venue
spread of a symbol) and ``market_maker`` (quotes around one venue's mid). Imports nothing
heavy: each example's module is imported when a hook runs.
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
    """Registers the example consumers ``printer``, ``spread`` and ``market_maker``.

    Each has its settings section ``consumers.<name>``; enable the plugin and list the
    ones you want in ``gateway.consumers`` (see the plugin's README).
    """

    manifest = PluginManifest(
        id="consumer-examples",
        dist="tradegw-consumer-examples",
        api_level=API_LEVEL,
        description=(
            "Example consumers: printer (logs events), spread (cross-venue spread watcher), "
            "market_maker (quotes around the mid, cancel/replace)"
        ),
    )

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        """Add the settings sections ``consumers.<name>`` of the three examples."""
        from tradegw_consumer_examples.printer import PrinterSettings

        registry.add(f"consumers.{PRINTER}", PrinterSettings, plugin_id=plugin_id)

        from tradegw_consumer_examples.market_maker import MarketMakerSettings
        from tradegw_consumer_examples.spread import SpreadSettings

        registry.add(f"consumers.{SPREAD}", SpreadSettings, plugin_id=plugin_id)
        registry.add(f"consumers.{MARKET_MAKER}", MarketMakerSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_consumers(self, registry: Any, plugin_id: str) -> None:
        """Add the ``printer``, ``spread`` and ``market_maker`` consumer factories."""
        from tradegw_consumer_examples.printer import PrinterConsumer

        registry.add(PRINTER, PrinterConsumer, plugin_id=plugin_id)

        from tradegw_consumer_examples.market_maker import MarketMakerConsumer
        from tradegw_consumer_examples.spread import SpreadConsumer

        registry.add(SPREAD, SpreadConsumer, plugin_id=plugin_id)
        registry.add(MARKET_MAKER, MarketMakerConsumer, plugin_id=plugin_id)
