"""``make bench`` fairness section: a short run still checks the slow consumer's book and
exec reports and prints the fast consumers' figures against the baseline."""

from __future__ import annotations

import pytest

from tradegw_core.bench.fairness import main


def test_fairness_bench_keeps_the_slow_consumers_book_and_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--rate", "2000", "--seconds", "0.3", "--symbols", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    assert out.count("p99") == 2  # one line per fast consumer
    assert "x), rate" in out
    assert "book equals the venue's: True" in out
    assert "in order: True" in out
