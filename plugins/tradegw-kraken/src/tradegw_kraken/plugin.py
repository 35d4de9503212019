"""The Kraken plugin: manifest and hook implementations only.

Everything heavy (websockets, httpx, the provider) is imported inside the factories, so
discovering the plugin costs nothing (a test checks ``sys.modules``).
"""

from __future__ import annotations

from typing import Any

from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import API_LEVEL, PluginManifest

__all__ = ["KrakenPlugin"]

PROVIDER = "kraken"


def _provider_factory(ctx: Any) -> Any:
    from tradegw_kraken.provider import KrakenProvider

    return KrakenProvider(ctx)


def _order_adapter_factory(ctx: Any) -> Any:
    from tradegw_kraken.orders import KrakenOrderAdapter

    return KrakenOrderAdapter.from_context(ctx)


def _emulator_factory(config: Any) -> Any:
    from tradegw_kraken.emulator import KrakenEmulator

    return KrakenEmulator(config)


class KrakenPlugin:
    """Kraken spot (WebSocket v2 market data, REST orders, ``executions`` reports)."""

    manifest = PluginManifest(
        id=PROVIDER,
        dist="tradegw-kraken",
        api_level=API_LEVEL,
        description="Kraken spot: WS v2 book with CRC32, trade, ticker, ohlc; REST orders.",
    )

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        """Add the ``providers.kraken`` section."""
        from tradegw_kraken.config import SECTION, KrakenSettings

        registry.add(SECTION, KrakenSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
        """Add the Kraken market-data provider factory."""
        registry.add(PROVIDER, _provider_factory, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_book_assemblers(self, registry: Any, plugin_id: str) -> None:
        """Add the checksum-verifying book assembler class."""
        from tradegw_kraken.book import KrakenBookAssembler

        registry.add(PROVIDER, KrakenBookAssembler, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_order_adapters(self, registry: Any, plugin_id: str) -> None:
        """Add the REST order adapter factory."""
        registry.add(PROVIDER, _order_adapter_factory, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_emulators(self, registry: Any, plugin_id: str) -> None:
        """Add the loopback Kraken emulator factory."""
        registry.add(PROVIDER, _emulator_factory, plugin_id=plugin_id)
