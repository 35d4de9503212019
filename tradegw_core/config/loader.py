"""Load the configuration: dynaconf reads, pydantic validates (the only dynaconf import).

Sources, later ones winning key by key:

1. ``settings.toml`` in the working directory, or the explicit ``--config`` file;
2. ``.secrets.toml`` beside that file;
3. ``TRADEGW_*`` variables of the ``env`` mapping, ``__`` separating nested keys
   (``TRADEGW_PROVIDERS__BINANCE__DEPTH=10``); values are parsed the dynaconf way
   (``10`` is an int, ``[1, 2]`` a list).

Loading is two-phase: the raw data says which plugins are enabled, the plugins register
their settings sections, then the composed model validates everything. ``env`` is read
once, here; nothing reads ``os.environ`` after start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynaconf import Dynaconf
from dynaconf.utils.parse_conf import parse_conf_data

from tradegw_core.config.models import PluginsSettings, Settings, compose_settings_model
from tradegw_core.config.validation import config_error, validate_section
from tradegw_core.errors import ConfigError
from tradegw_core.plugin.discovery import LoadedPlugin, load_plugins
from tradegw_core.plugin.registries import Registries

__all__ = [
    "ENV_PREFIX",
    "LoadedConfig",
    "RawConfig",
    "compose_from_registries",
    "load_config",
    "load_config_mapping",
    "read_raw_config",
]

ENV_PREFIX = "TRADEGW_"
SETTINGS_FILE = "settings.toml"
SECRETS_FILE = ".secrets.toml"


@dataclass(frozen=True)
class RawConfig:
    """Merged, unvalidated settings with where env values came from."""

    data: dict[str, Any]
    files: tuple[Path, ...] = ()
    env_sources: dict[tuple[str, ...], str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedConfig:
    """The outcome of start-up: validated settings, filled (frozen) registries, plugins."""

    settings: Settings
    registries: Registries
    plugins: list[LoadedPlugin]


def _files(path: str | Path | None, cwd: Path) -> list[Path]:
    if path is not None:
        main = Path(path)
        if not main.is_absolute():
            main = cwd / main
        if not main.is_file():
            raise ConfigError(f"config file {main} does not exist")
    else:
        main = cwd / SETTINGS_FILE
    secrets = main.parent / SECRETS_FILE
    return [p for p in (main, secrets) if p.is_file()]


def _read_files(files: list[Path]) -> dict[str, Any]:
    if not files:
        return {}
    try:
        loaded = Dynaconf(
            settings_files=[str(p) for p in files],
            environments=False,
            envvar_prefix=None,
            merge_enabled=True,
            root_path=str(files[0].parent),
        )
        data: dict[str, Any] = loaded.as_dict()
    except Exception as exc:
        names = ", ".join(str(p) for p in files)
        # The first line only: a parser may quote the offending line (maybe a secret).
        why = (str(exc).strip().splitlines() or [""])[0][:120]
        raise ConfigError(f"cannot read {names}: {type(exc).__name__}: {why}") from None
    return {k.lower(): v for k, v in data.items() if not k.endswith("_FOR_DYNACONF")}


def _deep_set(data: dict[str, Any], path: tuple[str, ...], value: Any, var: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            key = ".".join(path[: i + 1])
            raise ConfigError(f"{key}: is not a section, so {var} cannot set a key inside it")
        node = child
    node[path[-1]] = value


def read_raw_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> RawConfig:
    """Read files and ``TRADEGW_*`` variables into one unvalidated mapping."""
    environ = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    files = _files(path, base)
    data = _read_files(files)
    sources: dict[tuple[str, ...], str] = {}
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        parts = tuple(p.lower() for p in var[len(ENV_PREFIX) :].split("__"))
        if not all(parts):
            raise ConfigError(f"{var}: empty key part (use '__' between nested keys)")
        value = parse_conf_data(environ[var], tomlfy=True)
        _deep_set(data, parts, value, var)
        sources[parts] = var
    return RawConfig(data=data, files=tuple(files), env_sources=sources)


def compose_from_registries(registries: Registries) -> type[Settings]:
    """The settings model for the plugins whose sections are in ``registries.settings``."""
    return compose_settings_model(registries.settings.items())


def _check_names(settings: Settings, registries: Registries) -> None:
    problems: list[str] = []
    pairs = (("providers", registries.providers), ("consumers", registries.consumers))
    for kind, registry in pairs:
        names: tuple[str, ...] = getattr(settings.gateway, kind)
        for name in names:
            if name not in registry:
                known = ", ".join(registry) or "none"
                problems.append(
                    f"gateway.{kind}: {name!r} is not registered by any enabled plugin "
                    f"(registered: {known}); enable its plugin in plugins.enabled"
                )
    for name in settings.gateway.required_providers:
        if name not in settings.gateway.providers:
            problems.append(f"gateway.required_providers: {name!r} is not in gateway.providers")
    for kind, _ in pairs:
        for name in getattr(settings.gateway, kind):
            key = f"{kind}.{name}"
            if key in registries.settings and settings.section(key) is None:
                problems.append(f"{key}: required settings section is missing")
    if problems:
        raise config_error(problems)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    registries: Registries | None = None,
    freeze: bool = True,
) -> LoadedConfig:
    """Start-up: read, load the enabled plugins, compose the model, validate, freeze.

    Raises ConfigError (naming key, value and why) or PluginLoadError.
    """
    return _start_up(read_raw_config(path, env=env, cwd=cwd), registries, freeze)


def load_config_mapping(
    data: Mapping[str, Any], *, registries: Registries | None = None, freeze: bool = True
) -> LoadedConfig:
    """Start-up from an in-memory mapping (tests, embedding): no files, no environment."""
    return _start_up(RawConfig(data=dict(data)), registries, freeze)


def _start_up(raw: RawConfig, registries: Registries | None, freeze: bool) -> LoadedConfig:
    plugins_section = validate_section(
        PluginsSettings, raw.data.get("plugins", {}), prefix=("plugins",), sources=raw.env_sources
    )
    regs = registries if registries is not None else Registries()
    plugins = load_plugins(plugins_section.enabled, regs)
    model = compose_from_registries(regs)
    settings = validate_section(model, raw.data, sources=raw.env_sources)
    _check_names(settings, regs)
    if freeze:
        regs.freeze()
    return LoadedConfig(settings=settings, registries=regs, plugins=plugins)
