"""Plugin manifests: who a plugin is and which plugin API it was written against."""

from __future__ import annotations

import msgspec

__all__ = ["API_LEVEL", "PluginManifest"]

API_LEVEL = 1
"""The plugin API level this core implements; a plugin declaring another is refused."""


class PluginManifest(msgspec.Struct, frozen=True, kw_only=True):
    """Declared as ``manifest`` on every plugin class that the entry point targets."""

    id: str
    """The plugin's name: the entry-point name and what config enables."""
    dist: str
    """The distribution (pip package) that ships it, e.g. ``tradegw-binance``."""
    api_level: int
    description: str = ""
