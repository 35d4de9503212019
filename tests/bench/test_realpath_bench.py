"""`make bench`'s real-path section: scaling and paced latency stay runnable (tiny sizes)."""

from __future__ import annotations

import json

import pytest

from tradegw_core.bench import realpath


def test_generated_binance_frames_are_contiguous_per_symbol() -> None:
    case = realpath.binance_wire_case(400, 5)
    frames = [json.loads(r[3]) for r in case.records[case.marker :]]
    assert len(frames) == case.frames == 400
    last: dict[str, int] = {}
    for frame in frames:
        data = frame["data"]
        assert frame["stream"] == data["s"].lower() + "@depth@100ms"
        if data["s"] in last:
            assert data["U"] == last[data["s"]] + 1
        last[data["s"]] = data["u"]
    assert len(last) == 5
    assert case.gate is not None
    assert case.gate < case.marker


def test_scaling_and_paced_lines_print(capsys: pytest.CaptureFixture[str]) -> None:
    realpath.main(["--frames", "300", "--paced-frames", "300", "--steps", "40", "--scale", "3"])
    out = capsys.readouterr().out
    assert out.count("ns per delivered event") == 6
    assert "  real Binance path,    3 symbols ->   1 consumer(s)" in out
    assert "paced 10,000 frames/s, real Binance depth path" in out
    assert "paced 10,000 frames/s, real Kraken v2 depth 10 path" in out
    assert out.count("p99.9") == 2


def test_percentiles() -> None:
    assert realpath.percentiles(list(range(1, 1001))) == (0.501, 0.991, 1.0)
