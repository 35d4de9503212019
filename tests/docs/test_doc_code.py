"""The code the docs show is code that works: Python compiles, settings validate.

- every ```python block of README.md and docs/*.md compiles; the README's strategy runs;
- the guides' plugin classes (``DipBuyerPlugin``, ``AcmePlugin``) pass the real plugin host
  and register what the guides say they do;
- every ```toml block parses; the ones that are tradegw settings validate against the
  composed model of the installed plugins (plus the strategy guide's own plugin);
- every telemetry name and metric named in docs/operations.md is emitted by the code.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
import types
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from tradegw_core.config.loader import load_config_mapping
from tradegw_core.plugin.host import TradegwPluginManager
from tradegw_core.plugin.manifest import API_LEVEL
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import Trade

from .docblocks import REPO, Block, blocks, doc_files

_SETTINGS_SECTIONS = {
    "plugins",
    "gateway",
    "providers",
    "consumers",
    "orders",
    "logging",
    "api",
    "dispatcher",
}


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


def _guide_block(name: str, needle: str) -> Block:
    return next(b for b in blocks(REPO / "docs" / name) if needle in b.text)


def _install_fake_package(monkeypatch: pytest.MonkeyPatch, package: str, **modules: Any) -> None:
    """Make ``package.<name>`` importable from in-memory modules (no pip, no files)."""
    root = types.ModuleType(package)
    root.__path__ = []
    monkeypatch.setitem(sys.modules, package, root)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, f"{package}.{name}", module)


def _dip_buyer_registries(monkeypatch: pytest.MonkeyPatch) -> Registries:
    """Registries filled by the guide's DipBuyerPlugin, run through the real plugin host."""
    strategy = _module(_guide_block("writing-a-strategy.md", "class DipBuyer("), "dip_buyer")
    _install_fake_package(monkeypatch, "tradegw_dip_buyer", dip_buyer=strategy)
    plugin = _module(_guide_block("writing-a-strategy.md", "class DipBuyerPlugin"), "dip_plugin")
    pm = TradegwPluginManager()
    pm.register(plugin.DipBuyerPlugin(), name="dip-buyer")
    regs = Registries()
    pm.call_registration_hooks(["dip-buyer"], regs)
    return regs


def test_strategy_guide_plugin_registers_its_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    regs = _dip_buyer_registries(monkeypatch)

    assert "consumers.dip_buyer" in regs.settings
    assert regs.consumers.owner("dip_buyer") == "dip-buyer"
    consumer = regs.consumers.get("dip_buyer")(None)
    assert consumer.settings.provider == "binance"


def test_plugin_guide_skeleton_registers_all_five_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    config = types.ModuleType("tradegw_acme.config")
    config.AcmeSettings = type("AcmeSettings", (BaseModel,), {"__doc__": "Acme."})  # type: ignore[attr-defined]
    book = types.ModuleType("tradegw_acme.book")
    book.AcmeBookAssembler = type("AcmeBookAssembler", (), {})  # type: ignore[attr-defined]
    _install_fake_package(monkeypatch, "tradegw_acme", config=config, book=book)
    plugin = _module(_guide_block("writing-a-plugin.md", "class AcmePlugin"), "acme_plugin")
    pm = TradegwPluginManager()
    pm.register(plugin.AcmePlugin(), name="acme")
    regs = Registries()

    pm.call_registration_hooks(["acme"], regs)

    assert plugin.AcmePlugin.manifest.api_level == API_LEVEL
    assert "providers.acme" in regs.settings
    for registry in (regs.providers, regs.book_assemblers, regs.order_adapters, regs.emulators):
        assert registry.owner("acme") == "acme"


def test_every_toml_block_parses_and_settings_validate(monkeypatch: pytest.MonkeyPatch) -> None:
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
        regs = Registries()
        if "dip-buyer" in data["plugins"]["enabled"]:  # the guide's plugin, from its own code
            regs = _dip_buyer_registries(monkeypatch)
            data["plugins"]["enabled"].remove("dip-buyer")
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
        kind, _, event = name.partition(".")
        supervised = kind in ("provider", "order_adapter") and event in ("failed", "restarted")
        emitted = f'"{name}"' in source or (supervised and f"{{self.kind}}.{event}" in source)
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


_EMITTERS = frozenset({"emit", "_emit", "_event"})


def _emitted_names() -> set[str]:
    """Telemetry names the code emits (string literals given to an emit call)."""
    names: set[str] = set()
    roots = [REPO / "tradegw_core", *sorted((REPO / "plugins").glob("*/src"))]
    for path in (p for r in roots for p in r.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in _EMITTERS:
                continue
            first = node.args[0]
            options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            for option in options:
                if (
                    isinstance(option, ast.Constant)
                    and isinstance(option.value, str)
                    and re.fullmatch(r"[a-z_]+\.[a-z_.]+", option.value)
                ):
                    names.add(option.value)
    return names


def _defined_metrics() -> set[str]:
    """Prometheus metric names the code defines, as they are exposed."""
    source = _source_text()
    names = set(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(tradegw_[a-z_]+)"', source))
    counters = set(re.findall(r'Counter\(\s*"(tradegw_[a-z_]+)"', source))
    names = {n + "_total" if n in counters and not n.endswith("_total") else n for n in names}
    names |= set(re.findall(r'(?:inc|set|_count)\(\s*"(tradegw_[a-z_]+)"', source))
    names |= set(re.findall(r'[A-Z_]+_METRIC = "(tradegw_[a-z_]+)"', source))
    names |= set(re.findall(r'_OVERFLOW = "(tradegw_[a-z_]+)"', source))
    return names


def test_operations_documents_every_telemetry_name_and_metric() -> None:
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    emitted = _emitted_names()
    metrics = _defined_metrics()
    assert "book.resync" in emitted
    assert "tradegw_orders_submitted_total" in metrics

    undocumented = sorted(n for n in emitted | metrics if f"`{n}`" not in text)

    assert not undocumented, (
        f"docs/operations.md does not mention {undocumented}: add each to its table "
        "(Telemetry or Metrics) with when it happens"
    )


_RULE = re.compile(r"`(\w+)` = `(\w+)`(?: without `([^`]+)`)?")


@pytest.mark.anyio
async def test_emulator_endpoint_table_matches_the_emulators() -> None:
    from tradegw_core.plugin.discovery import list_installed, load_plugins
    from tradegw_core.sim.emulator import EmulatorConfig

    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (binance|coinbase|kraken) \| (.+?) \| (.+?) \|$", text, re.MULTILINE)
    assert {venue for venue, _, _ in rows} == {"binance", "coinbase", "kraken"}
    regs = Registries()
    load_plugins(
        [i.id for i in list_installed() if i.id in {"binance", "coinbase", "kraken"}], regs
    )
    for venue, rules, keys in rows:
        factory = regs.emulators.get(venue)
        async with factory(EmulatorConfig(venue=venue, symbols=("BTC-USDT",))) as emu:
            printed, client = emu.endpoints(), emu.client_settings()
        for field, name, suffix in _RULE.findall(rules):
            expected = printed[name].rstrip("/").removesuffix(suffix or "").rstrip("/")
            assert getattr(client, field) == expected, (venue, field, printed)
        for key in re.findall(r"`(\w+)`", keys):
            assert getattr(client, key) is not None, (venue, key)
