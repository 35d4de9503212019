"""The hook specifications of tradegw (pluggy project name ``tradegw``).

Hooks are synchronous and only *register factories* at start-up: no I/O, no per-event
traffic. Each receives the registry to fill and the plugin's id to register under.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "tradegw"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tradegw_register_settings(registry: Any, plugin_id: str) -> None:
    """Called first, once per enabled plugin: add pydantic settings sections.

    ``registry.add("providers.binance", BinanceSettings, plugin_id=plugin_id)`` makes
    ``[providers.binance]`` a validated part of the one config model. Returns nothing.
    """


@hookspec
def tradegw_register_providers(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add ``ProviderFactory`` callables under provider names.

    Returns nothing.
    """


@hookspec
def tradegw_register_book_assemblers(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add sans-I/O ``BookAssembler`` classes under provider names.

    Returns nothing.
    """


@hookspec
def tradegw_register_order_adapters(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add ``OrderAdapterFactory`` callables under provider names.

    Returns nothing.
    """


@hookspec
def tradegw_register_consumers(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add consumer factories (classes) under consumer names.

    Returns nothing.
    """


@hookspec
def tradegw_register_emulators(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add venue emulator factories under venue names.

    Returns nothing.
    """


@hookspec
def tradegw_register_risk_checks(registry: Any, plugin_id: str) -> None:
    """Called at start-up: add pre-trade risk check factories under check names.

    Returns nothing.
    """
