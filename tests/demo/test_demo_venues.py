"""``tradegw demo`` against every venue plugin installed: in-process and as a subprocess.

Whatever subset of Binance, Coinbase and Kraken is installed runs; each installed venue
must deliver market data to the consumers, and the market maker (consumer-examples) must
get execution reports for its orders. Skips, saying why, when no venue plugin is installed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tradegw_core.demo.runner import VENUES, DemoOptions, run_demo
from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.registries import Registries


def installed_registries() -> Registries:
    """Registries of every installed plugin that imports cleanly (what the CLI builds)."""
    regs = Registries()
    load_plugins([i.id for i in list_installed() if not i.error], regs)
    regs.freeze()
    return regs


def installed_venues(regs: Registries) -> list[str]:
    """Venues with both an emulator and a provider registered."""
    venues = [v for v in VENUES if v in regs.emulators and v in regs.providers]
    if not venues:
        pytest.skip("no venue plugin (tradegw-binance/-coinbase/-kraken) is installed")
    return venues


@pytest.mark.anyio
async def test_headless_demo_delivers_every_venue_and_exec_reports() -> None:
    regs = installed_registries()
    venues = installed_venues(regs)
    mm_venue = next((v for v in venues if v in regs.order_adapters), venues[0])
    out, err = io.StringIO(), io.StringIO()
    # Seeded market; 3 s at 8 steps/s gives every venue books and trades and the market
    # maker several fills (the emulator fills its quotes when the market trades through them).
    options = DemoOptions(duration=3.0, headless=True, mm_venue=mm_venue, rate=8.0, seed=7)
    with anyio.fail_after(30):
        result = await run_demo(options, regs, out=out, err=err)
    assert result.exit_code == 0, err.getvalue()
    assert set(result.venues) == set(venues)
    for venue in venues:
        assert result.events_by_venue.get(venue, 0) > 0, f"no events from {venue}"
        assert result.books_by_venue.get(venue, 0) > 0, f"no book snapshot/update from {venue}"
        assert result.trades_by_venue.get(venue, 0) > 0, f"no trade from {venue}"
    summary = out.getvalue()
    for venue in venues:
        assert f"events from {venue}: {result.events_by_venue[venue]}" in summary
    if "market_maker" not in regs.consumers:
        pytest.skip("consumer-examples is not installed: no market maker, no exec reports")
    assert result.consumer_events["market_maker"] > 0
    assert result.consumer_exec_reports["market_maker"] > 0
    # The claim: the market maker's orders go ACK -> FILLED.
    assert result.exec_states.get("ACK", 0) > 0
    assert result.exec_states.get("FILLED", 0) > 0, result.exec_states
    assert "exec report states seen: ACK=" in summary
    assert f"FILLED={result.exec_states['FILLED']}" in summary


def test_tradegw_demo_subprocess_exits_0_after_its_duration(tmp_path: Path) -> None:
    venues = installed_venues(installed_registries())
    script = Path(sys.executable).with_name("tradegw")
    command = (
        [str(script)]
        if script.exists()
        else [
            sys.executable,
            "-c",
            "import sys; from tradegw_core.cli import main; sys.exit(main())",
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_")}
    done = subprocess.run(
        [*command, "demo", "--duration", "3", "--headless"],
        capture_output=True,
        text=True,
        timeout=45,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tradegw demo summary" in done.stdout
    for venue in venues:
        assert f"events from {venue}: " in done.stdout
        assert f"events from {venue}: 0\n" not in done.stdout
