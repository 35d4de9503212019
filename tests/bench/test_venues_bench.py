"""`make bench`'s venue section runs on the real captures, with or without cryptofeed."""

from __future__ import annotations

import importlib.util
from decimal import Decimal as D
from pathlib import Path

import pytest

from tradegw_core.bench import venues
from tradegw_core.testing.data import shared_file

_NAMES = [
    "Binance depth, 11-symbol capture",
    "Binance aggTrade",
    "Binance depth BTCUSDT (emulator",
    "Kraken book depth 10 (emulator, v2)",
    "Kraken book depth 1000 (v1 capture)",
    "Coinbase level2 (emulator)",
]


def test_every_real_path_runs_without_cryptofeed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_file("cryptofeed/BINANCE.ws.1.0")
    shared_file("cryptofeed/KRAKEN.ws.50.0")
    monkeypatch.setattr(venues, "cryptofeed_version", lambda: None)
    results = venues.main(["--repeats", "1", "--steps", "30"])
    out = capsys.readouterr().out
    assert "cryptofeed not installed: its column is left out" in out
    assert [r.name[: len(n)] for r, n in zip(results, _NAMES, strict=True)] == _NAMES
    by_name = {r.name: r for r in results}
    # every timed diff after the sessions' last snapshots went through the real plugin
    assert by_name[_NAMES[0]].frames == 492
    assert by_name[_NAMES[1]].frames == 13 * 40
    assert by_name[_NAMES[4]].frames == 4269  # every checksummed v1 update, as v2
    assert all(r.frames > 0 and min(r.ours_us) > 0 and not r.peer_us for r in results)
    for name in _NAMES:
        assert f"  {name}" in out


@pytest.mark.skipif(
    importlib.util.find_spec("cryptofeed") is None, reason="cryptofeed (the [bench] extra) absent"
)
def test_both_sides_end_with_the_same_books() -> None:
    shared_file("cryptofeed/BINANCE.ws.1.0")
    results = venues.main(["--repeats", "1", "--steps", "0"])
    books = {r.name: r.books for r in results}
    assert books[_NAMES[0]] == "books same (11 books, 9395 levels)"
    assert books[_NAMES[4]] == "books same (10 books, 7452 levels)"
    assert all(r.peer_us for r in results)


def test_book_comparison_names_what_differs() -> None:
    ours = {"BTC-USDT": ({D("1"): D("2")}, {D("3"): D("4")})}
    same = {"BTC-USDT": ({D("1.0"): D("2")}, {D("3"): D("4")})}
    other = {"BTC-USDT": ({D("1"): D("2.5")}, {D("3"): D("4"), D("5"): D("1")})}
    assert venues.compare_books(ours, same) == "books same (1 books, 2 levels)"
    assert venues.compare_books(ours, other) == (
        "books DIFFER: BTC-USDT: 1 bid / 1 ask levels differ"
    )
    assert venues.compare_books(ours, {}) == "books: -"
    assert "missing on tradegw" in venues.compare_books({}, ours)


def test_profile_names_the_venue_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_file("cryptofeed/BINANCE.ws.1.0")
    monkeypatch.setattr(venues, "cryptofeed_version", lambda: None)
    args = ["--repeats", "1", "--steps", "0", "--cases", "binance", "--profile", "5"]
    depth, trades = venues.main(args)
    assert len(depth.profile) == len(trades.profile) == 5
    assert any("tradegw_binance/" in line for line in depth.profile)
    assert "profile of one timed tradegw run per case" in capsys.readouterr().out


@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib (the [bench] extra) absent"
)
def test_plot_draws_a_png(tmp_path: Path) -> None:
    from tradegw_core.bench.plot import draw

    result = venues.CaseResult("case (x)", 10, [2.0, 3.0], 1.0, [1.0, 1.5])
    draw([result, venues.CaseResult("other", 5, [4.0], None)], tmp_path / "p.png", "t")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
