"""docs/decisions.md records why consumer lanes are not memory object streams."""

from __future__ import annotations

from pathlib import Path

from tradegw_core.bus.data import OverflowPolicy

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions.md"


def test_lane_decision_names_the_reason_and_every_overflow_policy() -> None:
    rows = [
        line
        for line in DECISIONS.read_text().splitlines()
        if line.startswith("| Consumer lanes are")
    ]
    assert len(rows) == 1, "docs/decisions.md needs one row on the consumer lane design"
    (row,) = rows
    assert "memory object stream" in row
    assert "drop_oldest" in row
    for policy in OverflowPolicy:  # a new policy must be documented with its behaviour
        assert f"`{policy.value}`" in row, policy
    assert "exec_size" in row
    assert "never dropped" in row
