"""The plugin failure policy: every start-up problem, clearly, in one error."""

from __future__ import annotations

import sys

import pytest

from tradegw_core.errors import PluginLoadError
from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.registries import Registries

from .conftest import FakeSite

BROKEN = "raise RuntimeError('boom at import')\n"

ASYNC_HOOK = """
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest


class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    async def tradegw_register_providers(self, registry, plugin_id):
        registry.add("never", object(), plugin_id=plugin_id)
"""


def test_enabled_plugin_loads_and_registers_under_its_id(fake_site: FakeSite) -> None:
    fake_site.add("alpha", version="2.3.4")
    regs = Registries()

    loaded = load_plugins(["alpha"], regs)

    assert [p.id for p in loaded] == ["alpha"]
    assert loaded[0].version == "2.3.4"
    assert loaded[0].hooks == ("tradegw_register_providers",)
    assert "alpha-provider" in regs.providers
    assert regs.providers.owner("alpha-provider") == "alpha"


def test_missing_enabled_plugin_is_a_clear_error(fake_site: FakeSite) -> None:
    with pytest.raises(PluginLoadError) as info:
        load_plugins(["nope"], Registries())

    (failure,) = info.value.failures
    assert "nope" in failure
    assert "not installed" in failure
    assert "pip install" in failure


def test_import_error_names_the_plugin_and_the_error(fake_site: FakeSite) -> None:
    fake_site.add("broken", BROKEN)

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["broken"], Registries())

    (failure,) = info.value.failures
    assert failure.startswith("broken:")
    assert "RuntimeError: boom at import" in failure


def test_api_level_mismatch_is_refused(fake_site: FakeSite) -> None:
    fake_site.add("future", api_level=99)

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["future"], Registries())

    (failure,) = info.value.failures
    assert "API level 99" in failure
    assert "implements level 1" in failure


def test_duplicate_name_is_refused_and_names_both_distributions(fake_site: FakeSite) -> None:
    first = fake_site.add("twin", dist="fake-twin-a")
    second = fake_site.add("twin", dist="fake-twin-b")

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["twin"], Registries())

    (failure,) = info.value.failures
    assert "installed more than once" in failure
    assert "fake-twin-a" in failure
    assert "fake-twin-b" in failure
    assert first not in sys.modules
    assert second not in sys.modules


def test_async_hookimpl_is_refused(fake_site: FakeSite) -> None:
    fake_site.add("asyncy", ASYNC_HOOK)
    regs = Registries()

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["asyncy"], regs)

    (failure,) = info.value.failures
    assert "asyncy" in failure
    assert "async def" in failure
    assert "never" not in regs.providers


def test_every_failure_is_listed_in_one_error(fake_site: FakeSite) -> None:
    fake_site.add("ok")
    fake_site.add("broken", BROKEN)
    fake_site.add("future", api_level=2)
    fake_site.add("asyncy", ASYNC_HOOK)
    regs = Registries()

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["ok", "broken", "missing", "future", "asyncy"], regs)

    text = str(info.value)
    assert "4 plugin problem(s)" in text
    for name in ("broken", "missing", "future", "asyncy"):
        assert f"  - {name}:" in text or f"'{name}'" in text
    assert "never" not in regs.providers  # the refused plugin's hook never ran


SAME_PROVIDER = """
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest


class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    def tradegw_register_providers(self, registry, plugin_id):
        registry.add("shared-venue", object(), plugin_id=plugin_id)
"""

RAISING_HOOK = """
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest


class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    def tradegw_register_consumers(self, registry, plugin_id):
        raise LookupError("consumer table missing")
"""


def test_missing_plugin_and_duplicate_provider_come_out_in_one_error(
    fake_site: FakeSite,
) -> None:
    fake_site.add("first", SAME_PROVIDER)
    fake_site.add("second", SAME_PROVIDER)

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["first", "ghost", "second"], Registries())

    failures = info.value.failures
    assert len(failures) == 2
    missing, duplicate = failures
    assert missing.startswith("ghost: enabled in plugins.enabled but not installed")
    assert "pip install" in missing
    assert duplicate.startswith("second: tradegw_register_providers raised RegistryError")
    assert "duplicate provider 'shared-venue'" in duplicate
    assert "registered by 'first' and again by 'second'" in duplicate
    assert "disable one of them" in duplicate
    assert "2 plugin problem(s)" in str(info.value)


def test_import_error_and_raising_hook_come_out_in_one_error(fake_site: FakeSite) -> None:
    fake_site.add("broken", BROKEN)
    fake_site.add("flaky", RAISING_HOOK)

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["broken", "flaky"], Registries())

    broken, flaky = info.value.failures
    assert broken.startswith("broken: importing")
    assert flaky.startswith("flaky: tradegw_register_consumers raised LookupError")
    assert "remove it from plugins.enabled" in flaky


def test_disabled_broken_plugin_is_never_imported(fake_site: FakeSite) -> None:
    fake_site.add("good")
    broken_module = fake_site.add("broken", BROKEN)

    loaded = load_plugins(["good"], Registries())

    assert [p.id for p in loaded] == ["good"]
    assert broken_module not in sys.modules


def test_target_without_manifest_or_class_is_refused(fake_site: FakeSite) -> None:
    fake_site.add("nomanifest", "class Plugin:\n    pass\n")
    fake_site.add("notaclass", "Plugin = 42\n")
    fake_site.add(
        "wrongid",
        "from tradegw_core.plugin.manifest import PluginManifest\n"
        "class Plugin:\n"
        "    manifest = PluginManifest(id='other', dist='d', api_level=1)\n",
    )

    with pytest.raises(PluginLoadError) as info:
        load_plugins(["nomanifest", "notaclass", "wrongid"], Registries())

    failures = info.value.failures
    assert any("no PluginManifest" in f for f in failures)
    assert any("must target a plugin class" in f for f in failures)
    assert any("id 'other'" in f for f in failures)


def test_plugin_whose_constructor_raises_is_reported(fake_site: FakeSite) -> None:
    fake_site.add(
        "ctor",
        "from tradegw_core.plugin.manifest import PluginManifest\n"
        "class Plugin:\n"
        "    manifest = PluginManifest(id='ctor', dist='d', api_level=1)\n"
        "    def __init__(self):\n"
        "        raise ValueError('no config')\n",
    )

    with pytest.raises(PluginLoadError, match="ctor: creating the plugin failed with ValueError"):
        load_plugins(["ctor"], Registries())


def test_list_installed_shows_broken_plugins_with_their_error(fake_site: FakeSite) -> None:
    fake_site.add("good", version="0.9.1")
    fake_site.add("broken", BROKEN)
    fake_site.add("twin", dist="fake-twin-a")
    fake_site.add("twin", dist="fake-twin-b")

    infos = {(i.id, i.dist): i for i in list_installed(["good"])}

    good = next(i for (pid, _), i in infos.items() if pid == "good")
    assert (good.version, good.api_level, good.enabled, good.error) == ("0.9.1", 1, True, "")
    assert good.hooks == ("tradegw_register_providers",)
    broken = next(i for (pid, _), i in infos.items() if pid == "broken")
    assert "RuntimeError: boom at import" in broken.error
    assert broken.enabled is False
    twins = [i for (pid, _), i in infos.items() if pid == "twin"]
    assert len(twins) == 2
    assert all("duplicate name" in t.error for t in twins)
