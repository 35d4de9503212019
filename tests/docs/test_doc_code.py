"""The code the docs show is code that works: Python compiles, settings validate.

- every ```python block of README.md and docs/*.md compiles; the README's strategy runs;
- every ```toml block parses; the ones that are tradegw settings validate against the
  composed model of the installed plugins (a plugin the docs invent is registered from
  the guide's own code first);
- every telemetry name and metric named in docs/operations.md is emitted by the code.
"""

from __future__ import annotations

import re
import sys
import tomllib
import types
from decimal import Decimal
from typing import Any

import pytest

from tradegw_core.config.loader import load_config_mapping
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import Trade

from .docblocks import REPO, Block, blocks, doc_files

_SETTINGS_SECTIONS = {"plugins", "gateway", "providers", "consumers", "orders", "logging"}


def _all(lang: str) -> list[Block]:
    return [b for path in doc_files() for b in blocks(path) if b.lang == lang]


def _module(block: Block, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(block.path)
    sys.modules[name] = module
    try:
        exec(compile(block.text, block.where, "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def test_every_python_block_compiles() -> None:
    found = _all("python")
    assert len(found) >= 5
    for block in found:
        compile(block.text, block.where, "exec")


@pytest.mark.anyio
async def test_readme_strategy_keeps_the_last_trade_price() -> None:
    block = next(b for b in _all("python") if "class LastPrice(" in b.text)
    strategy = _module(block, "readme_last_price").LastPrice()
    trade = Trade(
        event_id="binance:BTC-USDT:Trade:1",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        trade_id="1",
        price=Decimal("60000.5"),
        qty=Decimal("0.1"),
    )

    await strategy.on_event(trade)

    assert strategy.last == Decimal("60000.5")


def _registries_for(data: dict[str, Any]) -> Registries:
    """Registries with the docs' invented plugins pre-registered from the docs' code."""
    regs = Registries()
    if "dip-buyer" in data.get("plugins", {}).get("enabled", []):
        guide = REPO / "docs" / "writing-a-strategy.md"
        block = next(b for b in blocks(guide) if "class DipBuyer(" in b.text)
        mod = _module(block, "doc_dip_buyer_settings")
        regs.settings.add("consumers.dip_buyer", mod.DipBuyerSettings, plugin_id="dip-buyer")
        regs.consumers.add("dip_buyer", mod.DipBuyer, plugin_id="dip-buyer")
        data["plugins"]["enabled"].remove("dip-buyer")
    return regs


def test_every_toml_block_parses_and_settings_validate() -> None:
    found = _all("toml")
    validated = 0
    for block in found:
        data = tomllib.loads(block.text)
        if "project" in data:  # a pyproject: its entry point targets a plugin class
            eps = data["project"]["entry-points"]["tradegw.plugins"]
            assert all(re.fullmatch(r"[\w.]+:\w+Plugin", t) for t in eps.values()), block.where
            continue
        assert set(data) <= _SETTINGS_SECTIONS, f"{block.where}: unknown sections {set(data)}"
        if "plugins" not in data:  # a fragment such as .secrets.toml: enable its venues
            data["plugins"] = {"enabled": sorted(data.get("providers", {}))}
        regs = _registries_for(data)
        loaded = load_config_mapping(data, registries=regs)
        assert loaded.settings is not None, block.where
        validated += 1
    assert validated >= 4


def _source_text() -> str:
    roots = [REPO / "tradegw_core", *sorted((REPO / "plugins").glob("*/src"))]
    return "\n".join(p.read_text(encoding="utf-8") for r in roots for p in r.rglob("*.py"))


def _operations_table_names(pattern: str) -> set[str]:
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names.update(n for n in re.findall(r"`([^`]+)`", first) if re.fullmatch(pattern, n))
    return names


def test_operations_names_exist_in_the_code() -> None:
    source = _source_text()
    telemetry = _operations_table_names(r"[a-z_]+\.[a-z_]+")
    metrics = _operations_table_names(r"tradegw_[a-z_]+")
    assert "book.resync" in telemetry
    assert "tradegw_orders_state_total" in metrics

    missing = []
    for name in sorted(telemetry):
        supervised = name in ("provider.failed", "order_adapter.failed")
        emitted = f'"{name}"' in source or (supervised and "{self.kind}.failed" in source)
        if not emitted:
            missing.append(name)
    for name in sorted(metrics):
        if f'"{name}"' not in source and f'"{name.removesuffix("_total")}"' not in source:
            missing.append(name)
    assert not missing, f"docs/operations.md names what the code never emits: {missing}"


def test_docs_link_to_files_that_exist() -> None:
    broken = []
    for path in doc_files():
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(REPO)} -> {target}")
    assert not broken, f"broken links: {broken}"


def test_paths_named_in_the_docs_exist() -> None:
    missing = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for ref in re.findall(r"`((?:plugins|tests|tradegw_core|docs)/[\w./-]+)`", text):
            if "<" not in ref and not (REPO / ref).exists():
                missing.append(f"{path.relative_to(REPO)}: {ref}")
    assert not missing, f"paths the docs name that do not exist: {missing}"
