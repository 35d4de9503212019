"""The tradegw entry point of the Binance spot plugin: manifest and hook implementations.

Hooks only register factories; every factory imports its module when first called, so
importing this module (what plugin discovery does) pulls in no network library.
"""

from __future__ import annotations

from typing import Any

from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import API_LEVEL, PluginManifest

__all__ = ["PROVIDER_NAME", "BinancePlugin"]

PROVIDER_NAME = "binance"


def _make_provider(ctx: Any) -> Any:
    from tradegw_binance.provider import BinanceProvider

    return BinanceProvider(ctx)


def _make_order_adapter(ctx: Any) -> Any:
    from tradegw_binance.orders import BinanceOrderAdapter

    return BinanceOrderAdapter.from_context(ctx)


def _make_emulator(*args: Any, **kwargs: Any) -> Any:
    from tradegw_binance.emulator import BinanceEmulator

    return BinanceEmulator(*args, **kwargs)


class BinancePlugin:
    """Binance spot: market data, book assembler, order adapter and venue emulator."""

    manifest = PluginManifest(
        id="binance",
        dist="tradegw-binance",
        api_level=API_LEVEL,
        description="Binance spot: market data, local book, orders, execution reports, emulator",
    )

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        """Add the ``providers.binance`` settings section."""
        from tradegw_binance.config import SETTINGS_SECTION, BinanceSettings

        registry.add(SETTINGS_SECTION, BinanceSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
        """Add the Binance market-data provider factory."""
        registry.add(PROVIDER_NAME, _make_provider, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_book_assemblers(self, registry: Any, plugin_id: str) -> None:
        """Add the Binance book assembler class."""
        from tradegw_binance.book import BinanceBookAssembler

        registry.add(PROVIDER_NAME, BinanceBookAssembler, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_order_adapters(self, registry: Any, plugin_id: str) -> None:
        """Add the Binance order adapter factory."""
        registry.add(PROVIDER_NAME, _make_order_adapter, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_emulators(self, registry: Any, plugin_id: str) -> None:
        """Add the Binance venue emulator factory."""
        registry.add(PROVIDER_NAME, _make_emulator, plugin_id=plugin_id)
