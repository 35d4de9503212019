"""The plugin is found through its entry point, registers its examples; its README is right."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tradegw_consumer_examples.plugin import ConsumerExamplesPlugin
from tradegw_consumer_examples.printer import PrinterConsumer, PrinterSettings

from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.manifest import API_LEVEL
from tradegw_core.plugin.registries import Registries


def test_entry_point_loads_and_registers_printer_and_its_settings() -> None:
    regs = Registries()

    (loaded,) = load_plugins(["consumer-examples"], regs)

    assert loaded.dist == "tradegw-consumer-examples"
    assert loaded.version == "0.1.0"
    assert isinstance(loaded.instance, ConsumerExamplesPlugin)
    assert regs.consumers.get("printer") is PrinterConsumer
    assert regs.consumers.owner("printer") == "consumer-examples"
    assert regs.settings.get("consumers.printer") is PrinterSettings


def test_manifest_matches_the_entry_point() -> None:
    manifest = ConsumerExamplesPlugin.manifest
    assert (manifest.id, manifest.dist, manifest.api_level) == (
        "consumer-examples",
        "tradegw-consumer-examples",
        API_LEVEL,
    )
    info = next(i for i in list_installed() if i.id == "consumer-examples")
    assert info.error == ""
    assert info.version == "0.1.0"


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, tradegw_consumer_examples.plugin\n"
        "heavy = [m for m in ('tradegw_consumer_examples.printer', 'pydantic', 'anyio', "
        "'websockets', 'httpx') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert out == ""


def test_readme_settings_are_what_the_examples_accept() -> None:
    from tradegw_consumer_examples.market_maker import MarketMakerSettings
    from tradegw_consumer_examples.spread import SpreadSettings

    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    blocks = re.findall(r"^```toml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    data: dict[str, Any] = {}
    for block in blocks:
        data.update(tomllib.loads(block))
    assert data["gateway"]["consumers"] == ["printer", "spread", "market_maker"]
    assert "consumer-examples" in data["plugins"]["enabled"]
    models = {"printer": PrinterSettings, "spread": SpreadSettings,
              "market_maker": MarketMakerSettings}  # fmt: skip
    for name, model in models.items():
        section = data["consumers"][name]
        parsed = model.model_validate(section)
        if name != "printer":  # the README shows the defaults of these two
            assert parsed == model(), name
    for name in ("printer", "spread", "market_maker"):
        assert f"`{name}`" in text
        assert f"[consumers.{name}]" in text
    description = ConsumerExamplesPlugin.manifest.description
    assert all(name in description for name in models)
