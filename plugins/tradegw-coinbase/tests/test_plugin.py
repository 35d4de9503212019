"""Entry point, hooks, settings, and the cheap-import promise of ``tradegw_coinbase.plugin``."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
from pydantic import ValidationError
from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.plugin import CoinbasePlugin

from tradegw_core.plugin.manifest import API_LEVEL
from tradegw_core.plugin.registries import Registries
from tradegw_core.testing.plugins import modules_pulled_in, registries_for


def test_importing_the_plugin_module_pulls_no_network_library() -> None:
    assert modules_pulled_in("tradegw_coinbase.plugin", ("websockets", "httpx")) == []


def test_entry_point_targets_the_plugin_class() -> None:
    (ep,) = [
        e for e in importlib.metadata.entry_points(group="tradegw.plugins") if e.name == "coinbase"
    ]
    assert ep.value == "tradegw_coinbase.plugin:CoinbasePlugin"
    assert ep.load() is CoinbasePlugin
    manifest = CoinbasePlugin.manifest
    assert (manifest.id, manifest.dist, manifest.api_level) == (
        "coinbase",
        "tradegw-coinbase",
        API_LEVEL,
    )


def test_hooks_register_every_factory() -> None:
    regs = registries_for(CoinbasePlugin(), "coinbase")
    assert regs.settings.get("providers.coinbase") is CoinbaseSettings
    for reg in (regs.providers, regs.book_assemblers, regs.order_adapters, regs.emulators):
        assert "coinbase" in reg
        assert reg.owner("coinbase") == "coinbase"


def test_settings_defaults_are_production_and_secrets_stay_hidden() -> None:
    s = CoinbaseSettings()
    assert s.ws_market_url == "wss://advanced-trade-ws.coinbase.com"
    assert s.ws_user_url == "wss://advanced-trade-ws-user.coinbase.com"
    assert s.rest_url == "https://api.coinbase.com"
    assert not s.has_credentials
    secret = "-----BEGIN EC PRIVATE KEY-----\nsecret-material\n-----END EC PRIVATE KEY-----\n"
    s2 = CoinbaseSettings(api_key_name="organizations/o/apiKeys/k", api_private_key=secret)
    assert s2.has_credentials
    assert "secret-material" not in repr(s2)
    assert "secret-material" not in str(s2.model_dump())
    assert s2.api_private_key is not None
    assert s2.api_private_key.get_secret_value() == secret
    # dynaconf may hand over a numeric-looking secret as a number.
    numeric = CoinbaseSettings(api_private_key=12345)  # type: ignore[arg-type]
    assert numeric.api_private_key is not None
    assert numeric.api_private_key.get_secret_value() == "12345"


def test_settings_validation_names_the_problem() -> None:
    with pytest.raises(ValidationError, match="BTC-USD"):
        CoinbaseSettings(symbols=["btc-usd"])
    with pytest.raises(ValidationError, match="connections_per_stream"):
        CoinbaseSettings(connections_per_stream=0)
    with pytest.raises(ValidationError, match="extra"):
        CoinbaseSettings(api_secret="x")  # type: ignore[call-arg]
    assert CoinbaseSettings(rest_url="http://127.0.0.1:9/").rest_url == "http://127.0.0.1:9"


def test_registered_factories_build_the_parts(provider_ctx: Any) -> None:
    from tradegw_coinbase.emulator import CoinbaseEmulator
    from tradegw_coinbase.orders import CoinbaseOrderAdapter
    from tradegw_coinbase.provider import CoinbaseProvider

    from tradegw_core.contracts import Provider
    from tradegw_core.sim.emulator import EmulatorConfig

    regs = Registries()
    plugin = CoinbasePlugin()
    plugin.tradegw_register_providers(regs.providers, "coinbase")
    plugin.tradegw_register_order_adapters(regs.order_adapters, "coinbase")
    plugin.tradegw_register_emulators(regs.emulators, "coinbase")
    ctx = provider_ctx(CoinbaseSettings())
    provider = regs.providers.get("coinbase")(ctx)
    assert isinstance(provider, CoinbaseProvider)
    assert isinstance(provider, Provider)
    adapter = regs.order_adapters.get("coinbase")(ctx)
    assert isinstance(adapter, CoinbaseOrderAdapter)
    assert adapter.provider == "coinbase"
    emulator = regs.emulators.get("coinbase")(
        EmulatorConfig(venue="coinbase", symbols=("BTC-USD",))
    )
    assert isinstance(emulator, CoinbaseEmulator)
    assert emulator.credentials[0].api_key.startswith("organizations/")
