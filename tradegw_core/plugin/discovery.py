"""Plugin discovery: stevedore over the ``tradegw.plugins`` entry-point group.

Only the names enabled in config are imported (``NamedExtensionManager``), so a broken
plugin that is installed but disabled can never stop start-up. Every problem of the
enabled plugins (missing, import error, wrong api level, duplicate name, forbidden
hookimpl, failing hook) is collected and raised as ONE :class:`PluginLoadError`.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stevedore import NamedExtensionManager

from tradegw_core.errors import PluginError, PluginLoadError
from tradegw_core.plugin.host import TradegwPluginManager, hookimpl_names
from tradegw_core.plugin.manifest import API_LEVEL, PluginManifest
from tradegw_core.plugin.registries import Registries

__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadedPlugin",
    "PluginInfo",
    "installed_entry_points",
    "list_installed",
    "load_plugins",
]

ENTRY_POINT_GROUP = "tradegw.plugins"


@dataclass(frozen=True)
class LoadedPlugin:
    """An enabled plugin after a successful start-up."""

    id: str
    dist: str
    version: str
    manifest: PluginManifest
    instance: object
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin as ``tradegw plugins`` shows it; ``error`` when it is broken."""

    id: str
    dist: str
    version: str
    api_level: int | None
    hooks: tuple[str, ...]
    enabled: bool
    error: str = ""


def installed_entry_points() -> dict[str, list[md.EntryPoint]]:
    """Entry points of the group by name (several per name means a duplicate)."""
    found: dict[str, list[md.EntryPoint]] = {}
    seen: set[tuple[str, str, str]] = set()
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value, _dist_name(ep))
        if key not in seen:
            seen.add(key)
            found.setdefault(ep.name, []).append(ep)
    return found


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


def _dist_version(ep: md.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else "?"


def _check_target(name: str, target: Any) -> tuple[PluginManifest | None, str]:
    """The plugin class's manifest, or why the target is not a valid plugin."""
    if not inspect.isclass(target):
        return None, (
            f"{name}: the entry point must target a plugin class, got {type(target).__name__}"
        )
    manifest = getattr(target, "manifest", None)
    if not isinstance(manifest, PluginManifest):
        return None, f"{name}: {target.__qualname__} has no PluginManifest 'manifest' attribute"
    if manifest.api_level != API_LEVEL:
        return manifest, (
            f"{name}: written for plugin API level {manifest.api_level}, but this tradegw-core "
            f"implements level {API_LEVEL}; install a release of {manifest.dist} made for "
            f"API level {API_LEVEL}, or remove {name!r} from plugins.enabled"
        )
    if manifest.id != name:
        return manifest, (
            f"{name}: its manifest says id {manifest.id!r} but the entry point is named "
            f"{name!r}; the two must match"
        )
    return manifest, ""


def load_plugins(
    enabled: Sequence[str],
    registries: Registries,
    *,
    manager: TradegwPluginManager | None = None,
) -> list[LoadedPlugin]:
    """Import the enabled plugins, register them with pluggy and run their hooks.

    The hooks of every plugin that loaded run even when others failed, so import,
    api-level and entry-point failures and hook-time failures (a duplicate registry name,
    a hook that raises) all come out in one PluginLoadError, each saying what to do.
    When it is raised, ``registries`` may hold partial registrations: discard it.
    """
    pm = manager if manager is not None else TradegwPluginManager()
    names = list(dict.fromkeys(enabled))
    eps = installed_entry_points()
    failures: list[str] = []
    duplicates = [n for n in names if len(eps.get(n, ())) > 1]
    for name in duplicates:
        dists = ", ".join(sorted(_dist_name(ep) for ep in eps[name]))
        failures.append(
            f"{name}: installed more than once (by {dists}); uninstall all but one of them"
        )
    wanted = [n for n in names if n not in duplicates]
    targets: dict[str, Any] = {}
    if wanted:
        import_failed: set[str] = set()

        def on_missing(missing: Iterable[str]) -> None:
            # stevedore also reports names whose import failed; those are listed already
            known = ", ".join(sorted(eps)) or "none"
            for name in sorted(set(missing) - import_failed):
                failures.append(
                    f"{name}: enabled in plugins.enabled but not installed (installed: {known}); "
                    "pip install the distribution that provides it, or remove it from "
                    "plugins.enabled"
                )

        def on_failure(_manager: Any, ep: md.EntryPoint, exc: BaseException) -> None:
            import_failed.add(ep.name)
            failures.append(
                f"{ep.name}: importing {ep.value} failed with {type(exc).__name__}: {exc}; "
                "reinstall or fix the plugin, or remove it from plugins.enabled"
            )

        extensions = NamedExtensionManager(
            ENTRY_POINT_GROUP,
            names=wanted,
            invoke_on_load=False,
            name_order=True,
            on_load_failure_callback=on_failure,
            on_missing_entrypoints_callback=on_missing,
        )
        targets = {ext.name: ext.plugin for ext in extensions.extensions}

    loaded: list[LoadedPlugin] = []
    for name in wanted:
        if name not in targets:
            continue
        manifest, problem = _check_target(name, targets[name])
        if problem or manifest is None:
            failures.append(problem)
            continue
        try:
            instance = targets[name]()
            pm.register(instance, name=name)
        except PluginError as exc:
            failures.append(f"{exc}; fix the plugin or remove it from plugins.enabled")
            continue
        except Exception as exc:
            failures.append(f"{name}: creating the plugin failed with {type(exc).__name__}: {exc}")
            continue
        ep = eps[name][0]
        loaded.append(
            LoadedPlugin(
                id=name,
                dist=_dist_name(ep),
                version=_dist_version(ep),
                manifest=manifest,
                instance=instance,
                hooks=pm.implemented_hooks(name),
            )
        )
    # the plugins that did load still run their hooks, so a duplicate provider name or a
    # failing hook is reported together with the missing / broken plugins, in one error
    try:
        pm.call_registration_hooks([p.id for p in loaded], registries)
    except PluginLoadError as exc:
        failures.extend(exc.failures)
    if failures:
        raise PluginLoadError(failures)
    return loaded


def list_installed(enabled: Collection[str] = ()) -> list[PluginInfo]:
    """Every installed plugin (imported to read its manifest); broken ones carry ``error``."""
    infos: list[PluginInfo] = []
    for name, eps in sorted(installed_entry_points().items()):
        for ep in eps:
            error = ""
            api_level: int | None = None
            hooks: tuple[str, ...] = ()
            if len(eps) > 1:
                others = ", ".join(sorted(_dist_name(e) for e in eps if e is not ep))
                error = f"duplicate name: also provided by {others}"
            try:
                target = ep.load()
            except Exception as exc:
                error = error or f"import failed: {type(exc).__name__}: {exc}"
            else:
                manifest, problem = _check_target(name, target)
                api_level = manifest.api_level if manifest is not None else None
                hooks = hookimpl_names(target) if inspect.isclass(target) else ()
                error = error or problem.removeprefix(f"{name}: ")
            infos.append(
                PluginInfo(
                    id=name,
                    dist=_dist_name(ep),
                    version=_dist_version(ep),
                    api_level=api_level,
                    hooks=hooks,
                    enabled=name in enabled,
                    error=error,
                )
            )
    return infos
