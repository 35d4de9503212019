"""The plugin: entry point, cheap import, hook registrations, settings validation."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from pydantic import ValidationError
from tradegw_kraken.config import SECTION, KrakenSettings
from tradegw_kraken.plugin import KrakenPlugin

from tradegw_core.plugin.manifest import API_LEVEL
from tradegw_core.plugin.registries import Registries
from tradegw_core.testing.plugins import modules_pulled_in, registries_for


def test_importing_the_plugin_module_imports_no_network_library() -> None:
    assert modules_pulled_in("tradegw_kraken.plugin", ("websockets", "httpx")) == []


def test_entry_point_targets_the_plugin_class() -> None:
    (ep,) = [e for e in entry_points(group="tradegw.plugins") if e.name == "kraken"]
    assert ep.value == "tradegw_kraken.plugin:KrakenPlugin"
    assert ep.load() is KrakenPlugin
    assert KrakenPlugin.manifest.api_level == API_LEVEL
    assert KrakenPlugin.manifest.dist == "tradegw-kraken"


def test_hooks_register_every_factory() -> None:
    regs = registries_for(KrakenPlugin(), "kraken")
    assert regs.settings.get(SECTION) is KrakenSettings
    for reg in (regs.providers, regs.book_assemblers, regs.order_adapters, regs.emulators):
        assert "kraken" in reg
        assert reg.owner("kraken") == "kraken"


def test_settings_defaults_are_production() -> None:
    s = KrakenSettings()
    assert s.ws_public_url == "wss://ws.kraken.com/v2"
    assert s.ws_auth_url == "wss://ws-auth.kraken.com/v2"
    assert s.rest_url == "https://api.kraken.com"
    assert s.book_depth == 10
    assert s.credentials() is None


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="book_depth"):
        KrakenSettings(book_depth=20)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="canonical"):
        KrakenSettings(symbols=("BTC/USD",))
    with pytest.raises(ValidationError):
        KrakenSettings(unknown=1)  # type: ignore[call-arg]
    # dynaconf hands numeric-looking secrets over as ints
    s = KrakenSettings(api_key=12345, api_secret="c2VjcmV0")  # type: ignore[arg-type]
    assert s.credentials() == ("12345", "c2VjcmV0")
    assert "12345" not in repr(s)


def test_factories_build_the_real_objects() -> None:
    from tradegw_kraken.emulator import KrakenEmulator
    from tradegw_kraken.orders import KrakenOrderAdapter
    from tradegw_kraken.provider import KrakenProvider

    from tradegw_core.clock import SystemClock
    from tradegw_core.sim.emulator import EmulatorConfig

    regs = Registries()
    plugin = KrakenPlugin()
    plugin.tradegw_register_providers(regs.providers, "kraken")
    plugin.tradegw_register_order_adapters(regs.order_adapters, "kraken")
    plugin.tradegw_register_emulators(regs.emulators, "kraken")

    class Ctx:
        provider_id = "kraken"
        settings = KrakenSettings()
        clock = SystemClock()
        telemetry = None
        metrics = None
        book_stage = None

        def reject_frame(self, reason: str, **_: object) -> None:
            raise AssertionError(f"nothing is rejected here ({reason})")

    assert isinstance(regs.providers.get("kraken")(Ctx()), KrakenProvider)
    assert isinstance(regs.order_adapters.get("kraken")(Ctx()), KrakenOrderAdapter)
    emulator = regs.emulators.get("kraken")(EmulatorConfig(venue="kraken", symbols=("BTC-USD",)))
    assert isinstance(emulator, KrakenEmulator)
    assert emulator.pairs["BTC-USD"].rest_name == "XBTUSD"
