"""Keyed registries that plugins fill through hooks; they reject duplicates and freeze."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from tradegw_core.errors import RegistryError

__all__ = ["Registries", "Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> item, filled at start-up, frozen before the gateway runs.

    ``add`` refuses a name that is taken (saying which plugin holds it) and refuses
    everything once frozen.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        self._frozen = False

    def add(self, name: str, item: T, *, plugin_id: str = "?") -> None:
        """Register ``item`` under ``name`` for ``plugin_id``."""
        if self._frozen:
            raise RegistryError(
                f"{self.kind} registry is frozen: {plugin_id!r} tried to add {name!r} "
                "after start-up"
            )
        if not name:
            raise RegistryError(f"{self.kind} registry: {plugin_id!r} used an empty name")
        if name in self._items:
            raise RegistryError(
                f"duplicate {self.kind} {name!r}: registered by {self._owners[name]!r} "
                f"and again by {plugin_id!r}; disable one of them"
            )
        self._items[name] = item
        self._owners[name] = plugin_id

    def get(self, name: str) -> T:
        """The item under ``name``; RegistryError listing what exists when unknown."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (registered: {known})") from None

    def owner(self, name: str) -> str:
        """The plugin that registered ``name``."""
        self.get(name)
        return self._owners[name]

    def freeze(self) -> None:
        """Refuse every later ``add``."""
        self._frozen = True

    @property
    def frozen(self) -> bool:
        """True after :meth:`freeze`."""
        return self._frozen

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs sorted by name."""
        return sorted(self._items.items())


class Registries:
    """Every registry of one gateway (no global state: the Gateway owns this object)."""

    def __init__(self) -> None:
        self.providers: Registry[Any] = Registry("provider")
        self.book_assemblers: Registry[Any] = Registry("book assembler")
        self.order_adapters: Registry[Any] = Registry("order adapter")
        self.consumers: Registry[Any] = Registry("consumer")
        self.emulators: Registry[Any] = Registry("emulator")
        self.risk_checks: Registry[Any] = Registry("risk check")
        self.settings: Registry[Any] = Registry("settings section")

    def all(self) -> list[Registry[Any]]:
        """Every registry, in a fixed order."""
        return [
            self.providers,
            self.book_assemblers,
            self.order_adapters,
            self.consumers,
            self.emulators,
            self.risk_checks,
            self.settings,
        ]

    def freeze(self) -> None:
        """Freeze every registry (called once start-up registration is done)."""
        for reg in self.all():
            reg.freeze()
