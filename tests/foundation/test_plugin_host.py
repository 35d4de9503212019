"""The pluggy manager: forbidden hookimpls are refused, hooks run in order, per plugin."""

from __future__ import annotations

from typing import Any

import pytest

from tradegw_core.errors import PluginError, PluginLoadError
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.host import HOOK_ORDER, TradegwPluginManager, hookimpl_names
from tradegw_core.plugin.registries import Registries


class Recorder:
    """Implements every hook and records the call order in a shared list."""

    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    @hookimpl
    def tradegw_register_settings(self, registry: Any, plugin_id: str) -> None:
        self.calls.append(("settings", plugin_id))

    @hookimpl
    def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
        self.calls.append(("providers", plugin_id))
        registry.add(f"{plugin_id}-p", object(), plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_book_assemblers(self, registry: Any) -> None:
        self.calls.append(("book_assemblers", "?"))

    @hookimpl
    def tradegw_register_order_adapters(self, plugin_id: str) -> None:
        self.calls.append(("order_adapters", plugin_id))

    @hookimpl
    def tradegw_register_consumers(self, registry: Any, plugin_id: str) -> None:
        self.calls.append(("consumers", plugin_id))

    @hookimpl
    def tradegw_register_emulators(self, registry: Any, plugin_id: str) -> None:
        self.calls.append(("emulators", plugin_id))

    @hookimpl
    def tradegw_register_risk_checks(self, registry: Any, plugin_id: str) -> None:
        self.calls.append(("risk_checks", plugin_id))


def test_hooks_run_settings_first_then_each_kind_per_plugin_in_config_order() -> None:
    calls: list[tuple[str, str]] = []
    pm = TradegwPluginManager()
    pm.register(Recorder(calls), name="b")
    pm.register(Recorder(calls), name="a")
    regs = Registries()

    pm.call_registration_hooks(["b", "a"], regs)

    kinds = [attr for _, attr in HOOK_ORDER]
    expected = []
    for kind in kinds:
        for pid in ("b", "a"):
            expected.append((kind, "?" if kind == "book_assemblers" else pid))
    assert calls == expected
    assert regs.providers.owner("b-p") == "b"
    assert regs.providers.owner("a-p") == "a"
    assert pm.implemented_hooks("a") == tuple(sorted(name for name, _ in HOOK_ORDER))


def test_a_raising_hook_names_the_plugin_and_others_still_run() -> None:
    class Bad:
        @hookimpl
        def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
            raise KeyError("oops")

    calls: list[tuple[str, str]] = []
    pm = TradegwPluginManager()
    pm.register(Bad(), name="bad")
    pm.register(Recorder(calls), name="good")

    with pytest.raises(PluginLoadError) as info:
        pm.call_registration_hooks(["bad", "good"], Registries())

    assert info.value.failures == [
        "bad: tradegw_register_providers raised KeyError: 'oops' "
        "(fix the plugin or remove it from plugins.enabled)"
    ]
    assert ("providers", "good") in calls


def test_duplicate_registration_across_plugins_names_both() -> None:
    class Same:
        @hookimpl
        def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
            registry.add("venue", object(), plugin_id=plugin_id)

    pm = TradegwPluginManager()
    pm.register(Same(), name="one")
    pm.register(Same(), name="two")

    with pytest.raises(PluginLoadError, match="registered by 'one' and again by 'two'"):
        pm.call_registration_hooks(["one", "two"], Registries())


@pytest.mark.parametrize("option", ["tryfirst", "trylast", "wrapper", "hookwrapper"])
def test_ordering_and_wrapper_options_are_refused(option: str) -> None:
    class Ordered:
        @hookimpl(**{option: True})
        def tradegw_register_providers(self, registry: Any, plugin_id: str) -> Any:
            yield

    pm = TradegwPluginManager()
    with pytest.raises(PluginError, match=f"uses {option}: plugins may not order or wrap"):
        pm.register(Ordered(), name="ordered")
    assert pm.get_plugin("ordered") is None


def test_async_hookimpls_are_refused_all_listed() -> None:
    class Async:
        @hookimpl
        async def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
            return None

        @hookimpl
        async def tradegw_register_consumers(self, registry: Any, plugin_id: str) -> Any:
            yield

    with pytest.raises(PluginError) as info:
        TradegwPluginManager().register(Async(), name="async")
    message = str(info.value)
    assert "'tradegw_register_providers' is 'async def'" in message
    assert "'tradegw_register_consumers' is 'async def'" in message


def test_unknown_hook_and_bad_arguments_are_refused() -> None:
    class Typo:
        @hookimpl
        def tradegw_register_provider(self, registry: Any) -> None:
            return None

    class BadArgs:
        @hookimpl
        def tradegw_register_providers(self, registry: Any, extra: int) -> None:
            return None

    pm = TradegwPluginManager()
    with pytest.raises(PluginError, match="unknown hook 'tradegw_register_provider'"):
        pm.register(Typo(), name="typo")
    with pytest.raises(PluginError, match="badargs"):
        pm.register(BadArgs(), name="badargs")


def test_registering_the_same_name_twice_is_a_plugin_error() -> None:
    pm = TradegwPluginManager()
    pm.register(Recorder([]), name="x")
    with pytest.raises(PluginError, match="already registered"):
        pm.register(Recorder([]), name="x")


def test_implemented_hooks_of_unknown_plugin_is_an_error() -> None:
    with pytest.raises(PluginError, match="not registered"):
        TradegwPluginManager().implemented_hooks("ghost")


def test_hookimpl_names_reads_a_class_without_instantiating() -> None:
    assert hookimpl_names(Recorder) == tuple(sorted(name for name, _ in HOOK_ORDER))
