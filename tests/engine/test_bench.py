"""``make bench`` stays runnable: its frames are Binance-shaped and it prints its numbers."""

from __future__ import annotations

import itertools

import msgspec
import pytest

from tradegw_core.bench.pipeline import DepthMsg, TradeMsg, main, make_frames


def test_frames_follow_the_binance_shapes_and_sequences() -> None:
    decoder = msgspec.json.Decoder(DepthMsg | TradeMsg)
    msgs = [decoder.decode(f) for f in make_frames(500, symbols=3)]
    depth = [m for m in msgs if isinstance(m, DepthMsg)]
    trades = [m for m in msgs if isinstance(m, TradeMsg)]
    assert depth
    assert trades
    for symbol in {m.s for m in depth}:
        ours = [m for m in depth if m.s == symbol]
        # each diff continues where the previous one ended (U = previous u + 1)
        assert all(a.u + 1 == b.U for a, b in itertools.pairwise(ours))
    assert all(m.p and m.q for m in trades)


def test_bench_prints_rates_latency_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--frames", "300", "--consumers", "1,2", "--batch", "50"])
    out = capsys.readouterr().out
    assert "bare JSON decode" in out
    # 1 and 2 consumers over the frames' symbols, then 1 and 10 consumers over 1000 symbols
    assert out.count("deliveries/s") == 4
    assert out.count("1000 symbols") == 2
    assert out.count("ns per delivered event") == 4
    assert "of bare decode" in out
    assert "paced 10k events/s" in out
    assert "p99" in out
