"""The Coinbase plugin's entry point: its manifest and hook implementations only.

Imports nothing heavy (no websockets, no httpx): every factory imports its module when the
gateway calls it, so discovering or listing plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import API_LEVEL, PluginManifest

__all__ = ["PROVIDER_NAME", "CoinbasePlugin"]

PROVIDER_NAME = "coinbase"


def _provider_factory(ctx: Any) -> Any:
    from tradegw_coinbase.provider import CoinbaseProvider

    return CoinbaseProvider(ctx)


def _order_adapter_factory(ctx: Any) -> Any:
    from tradegw_coinbase.orders import CoinbaseOrderAdapter

    return CoinbaseOrderAdapter.from_context(ctx)


def _emulator_factory(*args: Any, **kwargs: Any) -> Any:
    from tradegw_coinbase.emulator import CoinbaseEmulator

    return CoinbaseEmulator(*args, **kwargs)


class CoinbasePlugin:
    """Registers the Coinbase Advanced Trade provider, book, orders and emulator."""

    manifest = PluginManifest(
        id=PROVIDER_NAME,
        dist="tradegw-coinbase",
        api_level=API_LEVEL,
        description="Coinbase Advanced Trade: market data, sequenced book, orders, emulator",
    )

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        """Add the ``providers.coinbase`` settings section."""
        from tradegw_coinbase.config import SETTINGS_SECTION, CoinbaseSettings

        registry.add(SETTINGS_SECTION, CoinbaseSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
        """Add the market-data provider factory."""
        registry.add(PROVIDER_NAME, _provider_factory, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_book_assemblers(self, registry: Any, plugin_id: str) -> None:
        """Add the sans-I/O book assembler class."""
        from tradegw_coinbase.book import CoinbaseBookAssembler

        registry.add(PROVIDER_NAME, CoinbaseBookAssembler, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_order_adapters(self, registry: Any, plugin_id: str) -> None:
        """Add the order adapter factory."""
        registry.add(PROVIDER_NAME, _order_adapter_factory, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_emulators(self, registry: Any, plugin_id: str) -> None:
        """Add the loopback venue emulator factory."""
        registry.add(PROVIDER_NAME, _emulator_factory, plugin_id=plugin_id)
