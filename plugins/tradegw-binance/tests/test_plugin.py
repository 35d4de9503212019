"""Plugin entry point, hook registrations and the settings section."""

from __future__ import annotations

from importlib.metadata import entry_points

import pydantic
import pytest
from tradegw_binance.config import BinanceSettings
from tradegw_binance.plugin import BinancePlugin

from tradegw_core.plugin.manifest import API_LEVEL
from tradegw_core.testing.plugins import modules_pulled_in, registries_for


def test_importing_the_plugin_module_imports_no_network_library() -> None:
    assert modules_pulled_in("tradegw_binance.plugin", ("websockets", "httpx")) == []


def test_entry_point_targets_the_plugin_class() -> None:
    (ep,) = [e for e in entry_points(group="tradegw.plugins") if e.name == "binance"]
    assert ep.value == "tradegw_binance.plugin:BinancePlugin"
    assert ep.load() is BinancePlugin
    assert BinancePlugin.manifest.id == "binance"
    assert BinancePlugin.manifest.api_level == API_LEVEL


def test_hooks_register_settings_assembler_and_factories() -> None:
    regs = registries_for(BinancePlugin(), "binance")
    assert regs.settings.get("providers.binance") is BinanceSettings
    from tradegw_binance.book import BinanceBookAssembler

    assert regs.book_assemblers.get("binance") is BinanceBookAssembler
    for reg in (regs.providers, regs.order_adapters, regs.emulators):
        assert callable(reg.get("binance"))
        assert reg.owner("binance") == "binance"


def test_settings_defaults_are_production() -> None:
    s = BinanceSettings()
    assert s.rest_url == "https://api.binance.com"
    assert s.ws_url == "wss://stream.binance.com:9443/stream"
    assert s.ws_api_url == "wss://ws-api.binance.com:443/ws-api/v3"
    assert s.depth_stream_suffix == "depth@100ms"
    assert not s.can_trade


def test_settings_validate_and_hide_secrets() -> None:
    s = BinanceSettings(
        api_key=12345,
        api_secret="s3cr3t",
        symbols=("BTC-USDT",),
        update_speed="1000ms",
        rest_url="http://127.0.0.1:1234/",
    )
    assert s.api_key is not None
    assert s.api_key.get_secret_value() == "12345"
    assert "s3cr3t" not in repr(s)
    assert s.can_trade
    assert s.rest_url == "http://127.0.0.1:1234"
    assert s.depth_stream_suffix == "depth"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("depth", 7, "depth"),
        ("update_speed", "10ms", "update_speed"),
        ("connections_per_stream", 3, "connections_per_stream"),
        ("symbols", ("btcusdt",), "canonical BASE-QUOTE"),
        ("kline_interval", "2m", "not a Binance interval"),
        ("recv_window_ms", 70000, "recv_window_ms"),
        ("control_messages_per_second", 4, "control_messages_per_second"),
        ("refresh_interval_s", 0, "refresh_interval_s"),
        ("unknown_key", 1, "unknown_key"),
    ],
)
def test_settings_refuse_bad_values_clearly(field: str, value: object, needle: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=needle):
        BinanceSettings(**{field: value})  # type: ignore[arg-type]


def test_settings_refuse_two_key_types() -> None:
    with pytest.raises(pydantic.ValidationError, match="either api_secret"):
        BinanceSettings(api_secret="a", ed25519_private_key="b")


def test_factories_build_with_defaults_when_the_section_is_absent() -> None:
    from types import SimpleNamespace

    from tradegw_binance.plugin import _make_order_adapter, _make_provider

    from tradegw_core.clock import SystemClock

    ctx = SimpleNamespace(
        settings=None,
        provider_id="binance",
        clock=SystemClock(),
        telemetry=None,
        emit=print,
        reject_frame=print,
    )
    provider = _make_provider(ctx)
    assert provider.settings == BinanceSettings()
    assert provider.supported_types()
    adapter = _make_order_adapter(ctx)
    assert adapter.settings == BinanceSettings()
    assert adapter.validate_client_order_id("ok-1") is None
