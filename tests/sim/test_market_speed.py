"""The fast simulator path: output pinned across optimisations, bounded price cache, bench."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from tradegw_core.schema.events import Side
from tradegw_core.sim import MarketSimulator, SimTrade, VenueProfile, default_symbol_spec, ladder
from tradegw_core.sim.bench import SimFigure, main, measure
from tradegw_core.sim.ladder import LadderBook


def _sim(seed: int) -> MarketSimulator:
    sim = MarketSimulator(
        [default_symbol_spec("BTC-USDT"), default_symbol_spec("ETH-USDT")], seed=seed, start_ns=0
    )
    sim.add_venue(VenueProfile("a", spread_ticks=1, depth=5))
    sim.add_venue(VenueProfile("b", spread_ticks=4, noise_ticks=3, latency_ms=7))
    sim.add_venue(VenueProfile("c", spread_ticks=0, noise_ticks=0, depth=30, trade_prob=0.9))
    return sim


def _fingerprint(sim: MarketSimulator, steps: int) -> str:
    """Every emitted field, Decimals as their exact strings (exponent included)."""
    digest = hashlib.sha256()
    for e in sim.events(steps):
        if isinstance(e, SimTrade):
            row = [e.venue, e.symbol, e.trade_id, e.step, e.ts_ns, e.price, e.qty, e.aggressor]
        else:
            row = [e.venue, e.symbol, e.seq, e.step, e.ts_ns]
            row += [(c.side.value, str(c.price), str(c.qty)) for c in e.changes]
        digest.update(repr([str(v) if isinstance(v, Decimal | Side) else v for v in row]).encode())
    return digest.hexdigest()


def test_seed_42_sequence_is_the_one_the_reference_implementation_produced() -> None:
    # Computed with the first (unoptimised, Decimal-per-level) simulator: a speed-up that
    # changes what a seed produces (values, Decimal exponents, order) fails here.
    assert _fingerprint(_sim(42), 600) == (
        "0ca9baa6c43c26987e92de2dac27038cb64647f1a6db71d0f4cf1abbb0e81999"
    )


def test_clearing_the_price_cache_never_changes_the_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = _sim(9).events(400)
    monkeypatch.setattr(ladder, "PRICE_CACHE_MAX", 8)
    tiny = _sim(9)
    assert tiny.events(400) == reference
    assert repr(tiny.events(50)) == repr(_sim_after(9, 400).events(50))


def _sim_after(seed: int, steps: int) -> MarketSimulator:
    sim = _sim(seed)
    sim.events(steps)
    return sim


def test_ladder_price_is_the_exact_product_and_the_cache_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ladder, "PRICE_CACHE_MAX", 4)
    spec = default_symbol_spec("ETH-USDT")
    shared: dict[int, Decimal] = {}
    one, two = LadderBook(spec, shared), LadderBook(spec, shared)
    for ticks in range(300_000, 300_010):
        assert repr(one.price(ticks)) == repr(spec.tick * ticks)
        assert two.price(ticks) is one.price(ticks)  # one cache for every venue's book
        assert len(shared) <= 4
    assert repr(one.zero) == repr(spec.lot * 0)


def test_measure_reports_consistent_rates() -> None:
    figure = measure(2, 2, steps=200, repeat=1)
    assert isinstance(figure, SimFigure)
    assert (figure.venues, figure.symbols, figure.steps) == (2, 2, 200)
    assert figure.events > 200  # two venues: at least one delta each per step, most steps
    assert figure.events_per_s == pytest.approx(figure.events / figure.seconds)
    assert figure.ratio == pytest.approx(figure.events_per_s / figure.bare_per_s)
    assert "2 venue(s) x 2 symbol(s)" in figure.line()
    with pytest.raises(ValueError, match="venues in 1"):
        measure(0, 1)
    with pytest.raises(ValueError, match="steps and repeat"):
        measure(1, 1, steps=0)


def test_bench_main_prints_both_configurations(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--steps", "100", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "1 venue(s) x 1 symbol(s)" in out
    assert "3 venue(s) x 2 symbol(s)" in out
    assert out.count("events/s") == 2
    assert out.count("of bare random ints") == 2
