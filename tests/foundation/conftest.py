"""Fixtures for the foundation tests: fake installed plugins without pip."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import stevedore._cache
from stevedore.extension import ExtensionManager

PLUGIN_TEMPLATE = """
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.plugin.manifest import PluginManifest


class Plugin:
    manifest = PluginManifest(id={name!r}, dist={dist!r}, api_level={api_level})

    @hookimpl
    def tradegw_register_providers(self, registry, plugin_id):
        registry.add({name!r} + "-provider", object(), plugin_id=plugin_id)
"""


@dataclass
class FakeSite:
    """A directory on sys.path holding fake distributions with tradegw entry points."""

    root: Path
    modules: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        source: str | None = None,
        *,
        dist: str | None = None,
        version: str = "1.0.0",
        api_level: int = 1,
        attr: str = "Plugin",
    ) -> str:
        """Install plugin ``name``; returns the (unique) module name it lives in."""
        dist = dist or f"fake-{name}-{uuid.uuid4().hex[:6]}"
        module = f"fakeplugin_{uuid.uuid4().hex[:10]}"
        body = source if source is not None else PLUGIN_TEMPLATE
        text = textwrap.dedent(body).format(name=name, dist=dist, api_level=api_level)
        (self.root / f"{module}.py").write_text(text)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[tradegw.plugins]\n{name} = {module}:{attr}\n")
        self.modules.append(module)
        importlib.invalidate_caches()
        return module


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """Fake plugins visible to importlib.metadata and stevedore for one test."""
    root = tmp_path / "site"
    root.mkdir()
    # stevedore caches entry points per process (class attribute) and on disk: isolate both
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    monkeypatch.setattr(stevedore._cache._c, "_dir", str(tmp_path / "stevedore-cache"))
    monkeypatch.syspath_prepend(str(root))
    site = FakeSite(root)
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)


@pytest.fixture
def cli_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No settings.toml or TRADEGW_* variable leaks in; ``run``'s logging set-up leaks out."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("TRADEGW_")]:
        monkeypatch.delenv(var)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
