"""Consumer lanes: named overflow policies with counted drops, a bounded DLQ, and the
lossless exec-report queue that goes first."""

from __future__ import annotations

import anyio
import pytest

from tradegw_core.bus.data import DeadLetterQueue, Lane, OverflowPolicy

from .conftest import exec_report, trade


def fill(lane: Lane, seqs: range) -> list[bool]:
    return [lane.put_nowait(trade(s)) for s in seqs]


def drain_seqs(lane: Lane) -> list[int | None]:
    out = []
    while (item := lane.pop_nowait()) is not None:
        out.append(item.seq_provider)
    return out


def test_dlq_policy_sends_the_new_event_to_a_bounded_counted_dlq() -> None:
    dlq = DeadLetterQueue(size=2)
    lane = Lane("c1", size=3, overflow="dlq", dlq=dlq)
    assert fill(lane, range(1, 7)) == [True, True, True, False, False, False]
    assert drain_seqs(lane) == [1, 2, 3]
    assert lane.stats.dead_lettered == 3
    assert lane.stats.dropped == 3
    assert dlq.total == 3
    assert dlq.evicted == 1  # the DLQ is bounded too, and says what it let go
    assert [(c, e.seq_provider) for c, e in dlq.items()] == [("c1", 5), ("c1", 6)]


def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    lane = Lane("c1", size=3, overflow=OverflowPolicy.DROP_OLDEST)
    assert all(fill(lane, range(1, 6)))
    assert drain_seqs(lane) == [3, 4, 5]
    assert lane.stats.dropped_oldest == 2
    assert lane.stats.dropped == 2


def test_drop_newest_refuses_and_counts() -> None:
    lane = Lane("c1", size=2, overflow=OverflowPolicy.DROP_NEWEST)
    assert fill(lane, range(1, 5)) == [True, True, False, False]
    assert drain_seqs(lane) == [1, 2]
    assert lane.stats.dropped_newest == 2
    assert len(lane.dlq) == 0


def test_exec_reports_are_never_dropped_while_market_data_is_full() -> None:
    lane = Lane("rec", size=2, overflow=OverflowPolicy.DROP_NEWEST, exec_size=3)
    fill(lane, range(1, 10))
    assert lane.depth == 2
    for n in range(5):
        lane.put_exec_over(exec_report(n))  # beyond exec_size: queued and counted
    kinds = []
    while (item := lane.pop_nowait()) is not None:
        kinds.append(type(item).__name__)
    assert kinds == ["ExecReport"] * 5 + ["Trade"] * 2  # reports first, all of them
    assert lane.stats.exec_delivered == 5
    assert lane.stats.exec_over_capacity == 2
    assert lane.stats.dropped_newest == 7


@pytest.mark.anyio
async def test_put_exec_waits_for_room_instead_of_dropping() -> None:
    lane = Lane("rec", size=2, exec_size=1)
    assert lane.put_exec_nowait(exec_report(1))
    assert not lane.put_exec_nowait(exec_report(2))  # full: the producer must wait
    got: list[str] = []
    with anyio.fail_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lane.put_exec, exec_report(2))
            await anyio.wait_all_tasks_blocked()
            assert lane.exec_depth == 1  # still waiting for room
            while len(got) < 2:
                await lane.wait()
                item = lane.pop_nowait()
                assert item is not None
                got.append(item.client_order_id)  # type: ignore[attr-defined]
    assert got == ["o1", "o2"]


@pytest.mark.anyio
async def test_wait_returns_on_put_and_on_close() -> None:
    lane = Lane("c1", size=4)
    with anyio.fail_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lane.wait)
            await anyio.wait_all_tasks_blocked()
            lane.put_nowait(trade(1))
        assert drain_seqs(lane) == [1]
        async with anyio.create_task_group() as tg:
            tg.start_soon(lane.wait)
            await anyio.wait_all_tasks_blocked()
            lane.close()
    assert lane.closed


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="lane sizes"):
        Lane("c1", size=0)
    with pytest.raises(ValueError, match="DLQ size"):
        DeadLetterQueue(0)
    with pytest.raises(ValueError, match="'sideways' is not a valid OverflowPolicy"):
        Lane("c1", overflow="sideways")
