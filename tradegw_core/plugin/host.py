"""The pluggy plugin manager of tradegw and the registration-hook runner.

Hooks are synchronous and only register factories (``hookspecs``). This manager refuses,
before touching any state, a plugin whose hookimpls are ``async def``, use ``tryfirst`` /
``trylast`` / wrappers (order comes from config, never from hooks) or name an unknown
hook. :meth:`TradegwPluginManager.call_registration_hooks` calls every hook once per
plugin, in config order, so each registry records which plugin owns each name and one
failing plugin is named in the error instead of silencing the others.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pluggy

from tradegw_core.errors import PluginError, PluginLoadError
from tradegw_core.plugin import hookspecs
from tradegw_core.plugin.hookspecs import PROJECT
from tradegw_core.plugin.registries import Registries

__all__ = ["HOOK_ORDER", "TradegwPluginManager", "hookimpl_names"]

HOOK_ORDER: tuple[tuple[str, str], ...] = (
    ("tradegw_register_settings", "settings"),
    ("tradegw_register_providers", "providers"),
    ("tradegw_register_book_assemblers", "book_assemblers"),
    ("tradegw_register_order_adapters", "order_adapters"),
    ("tradegw_register_consumers", "consumers"),
    ("tradegw_register_emulators", "emulators"),
    ("tradegw_register_risk_checks", "risk_checks"),
)
"""(hook name, ``Registries`` attribute) in the order the hooks are called."""

_HOOK_NAMES = frozenset(name for name, _ in HOOK_ORDER)
_ORDERING_OPTS = ("tryfirst", "trylast", "wrapper", "hookwrapper")


def _marked(plugin: object) -> list[tuple[str, dict[str, Any]]]:
    """(attribute name, hookimpl options) of every tradegw hookimpl on ``plugin``."""
    base = pluggy.PluginManager(PROJECT)
    found: list[tuple[str, dict[str, Any]]] = []
    for attr in dir(plugin):
        opts = pluggy.PluginManager.parse_hookimpl_opts(base, plugin, attr)
        if opts is not None:
            found.append((attr, dict(opts)))
    return found


def hookimpl_names(plugin: object) -> tuple[str, ...]:
    """The hook names a plugin class or instance implements, sorted."""
    return tuple(sorted({opts.get("specname") or attr for attr, opts in _marked(plugin)}))


def _problems(plugin: object) -> list[str]:
    problems: list[str] = []
    for attr, opts in _marked(plugin):
        hook = opts.get("specname") or attr
        func = inspect.getattr_static(plugin, attr)
        func = getattr(func, "__func__", func)
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            problems.append(
                f"hookimpl {attr!r} is 'async def': hooks are synchronous and only register "
                "factories; make it a plain 'def'"
            )
        used = [opt for opt in _ORDERING_OPTS if opts.get(opt)]
        if used:
            problems.append(
                f"hookimpl {attr!r} uses {', '.join(used)}: plugins may not order or wrap "
                "hooks (order comes from config lists); remove the option"
            )
        if hook not in _HOOK_NAMES:
            known = ", ".join(sorted(_HOOK_NAMES))
            problems.append(f"hookimpl {attr!r} names unknown hook {hook!r} (known: {known})")
    return problems


class TradegwPluginManager(pluggy.PluginManager):
    """pluggy's manager for project ``tradegw``, refusing hookimpls the rules forbid."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` after checking every hookimpl; PluginError lists all problems."""
        label = name or self.get_canonical_name(plugin)
        problems = _problems(plugin)
        if problems:
            raise PluginError(f"plugin {label!r}: " + "; ".join(problems))
        try:
            return super().register(plugin, name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {label!r}: {exc}") from exc

    def implemented_hooks(self, plugin_name: str) -> tuple[str, ...]:
        """Hook names the registered plugin ``plugin_name`` implements, sorted."""
        plugin = self.get_plugin(plugin_name)
        if plugin is None:
            raise PluginError(f"plugin {plugin_name!r} is not registered")
        return hookimpl_names(plugin)

    def call_registration_hooks(self, plugin_ids: Sequence[str], registries: Registries) -> None:
        """Call each registration hook, per plugin in ``plugin_ids`` order.

        ``tradegw_register_settings`` runs first, then providers, book assemblers, order
        adapters, consumers, emulators and risk checks. Every failure is collected; if any,
        one PluginLoadError names each plugin and hook that raised.
        """
        failures: list[str] = []
        for hook_name, attr in HOOK_ORDER:
            registry = getattr(registries, attr)
            caller: pluggy.HookCaller = getattr(self.hook, hook_name)
            impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
            for plugin_id in plugin_ids:
                impl = impls.get(plugin_id)
                if impl is None:
                    continue
                kwargs: dict[str, Any] = {"registry": registry, "plugin_id": plugin_id}
                try:
                    impl.function(*[kwargs[arg] for arg in impl.argnames])
                except Exception as exc:
                    failures.append(
                        f"{plugin_id}: {hook_name} raised {type(exc).__name__}: {exc} "
                        "(fix the plugin or remove it from plugins.enabled)"
                    )
        if failures:
            raise PluginLoadError(failures)
