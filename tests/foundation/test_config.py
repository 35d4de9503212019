"""Configuration: files, secrets, env nesting, one model with plugin sections, clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from tradegw_core.config.loader import load_config, read_raw_config
from tradegw_core.config.models import Settings, compose_settings_model
from tradegw_core.config.validation import validate_section
from tradegw_core.errors import ConfigError, PluginLoadError
from tradegw_core.plugin.registries import Registries

from .conftest import FakeSite

VENUE_PLUGIN = """
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest


class VenueSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)
    depth: Literal[5, 10, 20] = 10
    api_secret: SecretStr | None = None


class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    def tradegw_register_settings(self, registry, plugin_id):
        registry.add("providers.venue", VenueSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_providers(self, registry, plugin_id):
        registry.add("venue", object(), plugin_id=plugin_id)
"""


@pytest.fixture
def venue(fake_site: FakeSite) -> FakeSite:
    fake_site.add("venue", VENUE_PLUGIN)
    return fake_site


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    loaded = load_config(env={}, cwd=tmp_path)

    s = loaded.settings
    assert s.dispatcher.lane_size == 10_000
    assert s.dispatcher.overflow == "dlq"
    assert s.orders.price_band_pct == Decimal(5)
    assert s.metrics.host == "127.0.0.1"
    assert s.metrics.port == 9090
    assert loaded.plugins == []
    assert loaded.registries.providers.frozen


def test_settings_toml_in_cwd_and_secrets_beside_it(tmp_path: Path, venue: FakeSite) -> None:
    write(
        tmp_path / "settings.toml",
        '[plugins]\nenabled = ["venue"]\n[gateway]\nproviders = ["venue"]\n'
        "[providers.venue]\ndepth = 20\n[api]\nenabled = true\n",
    )
    write(
        tmp_path / ".secrets.toml", "[api]\ntoken = 12345\n[providers.venue]\napi_secret = 'zz'\n"
    )

    s = load_config(env={}, cwd=tmp_path).settings

    assert s.providers.venue.depth == 20  # type: ignore[attr-defined]
    assert s.api.enabled
    assert s.api.token is not None
    assert s.api.token.get_secret_value() == "12345"  # numeric-looking secret kept as text
    assert s.section("providers.venue").api_secret.get_secret_value() == "zz"
    assert "12345" not in repr(s)
    assert "zz" not in repr(s)


def test_env_overrides_with_double_underscore_nesting(tmp_path: Path, venue: FakeSite) -> None:
    cfg = write(tmp_path / "gw.toml", "[dispatcher]\nlane_size = 5\n")
    env = {
        "TRADEGW_PLUGINS__ENABLED": '["venue"]',
        "TRADEGW_PROVIDERS__VENUE__DEPTH": "5",
        "TRADEGW_DISPATCHER__OVERFLOW": "drop_oldest",
        "TRADEGW_ORDERS__MAX_NOTIONAL": "1000.50",
        "OTHER_VAR": "ignored",
    }

    s = load_config(cfg, env=env).settings

    assert s.plugins.enabled == ("venue",)
    assert s.section("providers.venue").depth == 5
    assert s.dispatcher.lane_size == 5
    assert s.dispatcher.overflow == "drop_oldest"
    assert s.orders.max_notional == Decimal("1000.5")


def test_bad_config_file_value_names_key_value_and_why(tmp_path: Path, venue: FakeSite) -> None:
    cfg = write(
        tmp_path / "gw.toml", '[plugins]\nenabled = ["venue"]\n[providers.venue]\ndepth = 7\n'
    )

    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})

    assert "providers.venue.depth: must be one of 5, 10, 20 (got 7)" in str(info.value)


def test_bad_env_value_names_the_key_and_the_variable(tmp_path: Path) -> None:
    env = {"TRADEGW_DISPATCHER__LANE_SIZE": "lots"}

    with pytest.raises(ConfigError) as info:
        load_config(env=env, cwd=tmp_path)

    message = str(info.value)
    assert "dispatcher.lane_size:" in message
    assert "(got 'lots')" in message
    assert "[from TRADEGW_DISPATCHER__LANE_SIZE]" in message


def test_unknown_key_is_refused_with_the_known_keys(tmp_path: Path) -> None:
    cfg = write(tmp_path / "gw.toml", "[dispatcher]\nlane_sise = 5\n")

    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})

    message = str(info.value)
    assert "dispatcher.lane_sise: unknown setting" in message
    assert "lane_size" in message


def test_book_section_has_only_settings_something_reads(tmp_path: Path) -> None:
    # the diff buffer before a snapshot is bounded per venue by its assembler; a core
    # [book] knob that no assembler reads must not be accepted silently
    cfg = write(tmp_path / "gw.toml", "[book]\nmax_buffered_diffs = 5\n")

    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})

    message = str(info.value)
    assert "book.max_buffered_diffs: unknown setting" in message
    assert "refresh_min_s" in message


def test_secrets_never_appear_in_errors(tmp_path: Path, venue: FakeSite) -> None:
    cfg = write(
        tmp_path / "gw.toml",
        '[plugins]\nenabled = ["venue"]\n[providers.venue]\napi_secret = ["hunter2"]\n',
    )
    env = {"TRADEGW_API__TOKEN": "[1, 'tok-s3cret']"}

    with pytest.raises(ConfigError) as info:
        load_config(cfg, env=env)

    message = str(info.value)
    assert "providers.venue.api_secret" in message
    assert "api.token" in message
    assert "hunter2" not in message
    assert "s3cret" not in message
    assert "(got ***)" in message


def test_cross_checks_of_gateway_lists(tmp_path: Path, venue: FakeSite) -> None:
    cfg = write(
        tmp_path / "gw.toml",
        '[plugins]\nenabled = ["venue"]\n'
        '[gateway]\nproviders = ["venue", "ghost"]\nconsumers = ["nobody"]\n'
        'required_providers = ["other"]\n',
    )

    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})

    message = str(info.value)
    assert "gateway.providers: 'ghost' is not registered" in message
    assert "(registered: venue)" in message
    assert "gateway.consumers: 'nobody'" in message
    assert "gateway.required_providers: 'other' is not in gateway.providers" in message


def test_missing_required_plugin_section_is_reported(tmp_path: Path, fake_site: FakeSite) -> None:
    fake_site.add(
        "keyed",
        """
from pydantic import BaseModel
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest

class KeyedSettings(BaseModel):
    url: str

class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    def tradegw_register_settings(self, registry, plugin_id):
        registry.add("providers.keyed", KeyedSettings, plugin_id=plugin_id)

    @hookimpl
    def tradegw_register_providers(self, registry, plugin_id):
        registry.add("keyed", object(), plugin_id=plugin_id)
""",
    )
    cfg = write(
        tmp_path / "gw.toml", '[plugins]\nenabled = ["keyed"]\n[gateway]\nproviders = ["keyed"]\n'
    )

    with pytest.raises(ConfigError, match=r"providers\.keyed: required settings section"):
        load_config(cfg, env={})
    ok = load_config(cfg, env={"TRADEGW_PROVIDERS__KEYED__URL": "ws://127.0.0.1:1"})
    assert ok.settings.section("providers.keyed").url == "ws://127.0.0.1:1"


def test_plugin_failure_during_config_load_is_a_plugin_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match=r"nope: enabled in plugins\.enabled but not"):
        load_config(env={"TRADEGW_PLUGINS__ENABLED": '["nope"]'}, cwd=tmp_path)


def test_file_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", env={})
    bad = write(tmp_path / "bad.toml", "[plugins\nenabled = 1\n")
    with pytest.raises(ConfigError, match="cannot read"):
        read_raw_config(bad, env={})
    with pytest.raises(ConfigError, match="empty key part"):
        read_raw_config(env={"TRADEGW_A____B": "1"}, cwd=tmp_path)
    scalar = write(tmp_path / "s.toml", "[book]\nrefresh_min_s = 1\n")
    with pytest.raises(ConfigError, match=r"book\.refresh_min_s: is not a section"):
        read_raw_config(scalar, env={"TRADEGW_BOOK__REFRESH_MIN_S__X": "1"})


def test_model_level_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"refresh_min_s .* must not exceed"):
        load_config(env={"TRADEGW_BOOK__REFRESH_MIN_S": "500"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="api: token is required when enabled = true"):
        load_config(env={"TRADEGW_API__ENABLED": "true"}, cwd=tmp_path)
    lowered = load_config(env={"TRADEGW_LOGGING__LEVEL": "debug"}, cwd=tmp_path)
    assert lowered.settings.logging.level == "DEBUG"


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_config(env={}, cwd=tmp_path).settings
    with pytest.raises(ValueError, match="frozen"):
        s.dispatcher.lane_size = 1  # type: ignore[misc]


class _Depth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    depth: Literal[5, 10] = 5


class _Required(BaseModel):
    token: SecretStr


def test_compose_groups_top_level_sections_and_hyphenated_names() -> None:
    model = compose_settings_model(
        [("providers.fast-venue", _Depth), ("risk", _Depth), ("consumers.needs", _Required)]
    )

    s = model.model_validate({"providers": {"fast-venue": {"depth": 10}}, "risk": {}})

    assert s.section("providers.fast-venue").depth == 10
    assert s.section("risk").depth == 5
    assert s.section("consumers.needs") is None
    assert s.section("nothing.here") is None
    schema = model.model_json_schema(by_alias=True)
    assert "fast-venue" in schema["$defs"]["ProvidersSettings"]["properties"]


@pytest.mark.parametrize(
    ("key", "model", "why"),
    [
        ("orders.extra", _Depth, "belongs to the core"),
        ("a.b.c", _Depth, "use 'group.name'"),
        ("providers", _Depth, "name a plugin"),
        ("providers.x", dict, "is not a pydantic model"),
        ("providers.bad key", _Depth, "not a valid key"),
    ],
)
def test_compose_refuses_bad_section_keys(key: str, model: type, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        compose_settings_model([(key, model)])


def test_validate_section_reports_missing_and_masks_secret_types() -> None:
    with pytest.raises(ConfigError) as info:
        validate_section(_Required, {}, prefix=("consumers", "needs"))
    assert "consumers.needs.token: required setting is missing" in str(info.value)
    with pytest.raises(ConfigError) as info:
        validate_section(_Required, {"token": 3.5})
    assert "token:" in str(info.value)
    assert "3.5" not in str(info.value)


def test_registries_are_left_open_when_asked(tmp_path: Path) -> None:
    regs = Registries()
    loaded = load_config(env={}, cwd=tmp_path, registries=regs, freeze=False)
    assert loaded.registries is regs
    assert not regs.providers.frozen
    assert isinstance(loaded.settings, Settings)


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: SecretStr | None = None


def test_secret_typed_fields_are_masked_whatever_their_name() -> None:
    with pytest.raises(ConfigError) as info:
        validate_section(_Credentials, {"credential": ["visible?"]}, prefix=("providers", "x"))
    message = str(info.value)
    assert "providers.x.credential:" in message
    assert "visible?" not in message
