"""``make bench``'s merge section: every fragment reaches the consumer merged, and it prints."""

from __future__ import annotations

import pytest

from tradegw_core.bench.merge import main, run_once


def test_every_fragment_of_the_three_venues_reaches_the_consumer_in_one_merged_event() -> None:
    _cost, delivered, in_merged = run_once(6_000, 100, merged=True)
    assert in_merged == 6_000  # no fragment lost, none delivered twice
    assert delivered == 6  # 6000 fragments, 10k/s of event time: six 100 ms windows
    _cost, plain, none = run_once(600, 100, merged=False)
    assert (plain, none) == (600, 0)


def test_the_merge_section_prints_cost_per_fragment_and_the_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--fragments", "3000", "--repeat", "1", "--consumers", "1,2"])  # others' args ignored
    out = capsys.readouterr().out
    assert "3 venues -> 1 merge (100 ms windows) -> 1 consumer" in out
    assert "ns per fragment; 3 MergedEvents" in out
    assert "merging adds" in out
    assert "x the pass-through" in out
