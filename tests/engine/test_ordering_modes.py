"""The A/B property under the ordering modes venue plugins declare (docs/decisions.md).

* CONTIGUOUS trades (Kraken ``trade_id``) and CONTIGUOUS book updates by range with a
  ``prev_seq`` chain (Binance diff depth, where empty diffs are applied but not emitted):
  every consumer sees every emitted seq exactly once, in order, whatever copy lost what.
* MONOTONIC (Coinbase, Binance trades/tickers): never held, never repeated, always
  increasing, but a seq one copy lost cannot be filled by the other copy once a later seq
  went out.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher import Dispatcher, OrderingMode
from tradegw_core.dispatcher.ordering import declare_modes
from tradegw_core.schema.events import BookUpdate, Event, EventType, StreamKey, make_event_id

from .conftest import trade
from .test_dispatcher import ab_feeds, drain

TRADES = StreamKey("fake", "BTC-USDT", EventType.TRADE)
BOOK = StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE)


def book_update(first: int, last: int, prev: int | None) -> BookUpdate:
    """A diff covering ``first..last`` whose predecessor emitted was ``prev``."""
    return BookUpdate(
        event_id=make_event_id("fake", "BTC-USDT", EventType.BOOK_UPDATE, last),
        provider="fake",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=last,
        first_seq=first,
        last_seq=last,
        prev_seq=prev,
    )


@st.composite
def book_chain(draw: st.DrawFn) -> list[BookUpdate]:
    """What a Binance assembler emits: consecutive U..u ranges, some (empty) not emitted."""
    sizes = draw(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30))
    hidden = draw(st.lists(st.booleans(), min_size=len(sizes), max_size=len(sizes)))
    out: list[BookUpdate] = []
    seq, prev = 1000, None
    for i, (size, empty) in enumerate(zip(sizes, hidden, strict=True)):
        first, last = seq + 1, seq + size
        seq = last
        if empty and i > 0:
            continue  # applied by the assembler, emitted to nobody: prev_seq skips it
        out.append(book_update(first, last, prev))
        prev = last
    return out


def _dispatcher(mode: OrderingMode, consumers: int) -> tuple[Dispatcher, FakeClock, list[str]]:
    clock = FakeClock()
    d = Dispatcher(clock=clock)
    d.set_ordering_mode("fake", EventType.TRADE, mode)
    d.set_ordering_mode("fake", EventType.BOOK_UPDATE, mode)
    names = [f"c{i}" for i in range(consumers)]
    for name in names:
        d.add_consumer(name)
        d.subscribe(name, [TRADES, BOOK])
    return d, clock, names


def _play(d: Dispatcher, clock: FakeClock, events: list[Event]) -> None:
    for event in events:
        clock.advance(ns=1_000)  # both copies arrive well inside the tolerance
        d.dispatch(event)
        d.flush()


@settings(max_examples=200, deadline=None)
@given(ab_feeds(), st.integers(min_value=1, max_value=3))
def test_contiguous_trades_fill_each_copys_gaps_from_the_other(
    feeds: tuple[int, list[tuple[str, int]]], consumers: int
) -> None:
    n, merged = feeds
    d, clock, names = _dispatcher(OrderingMode.CONTIGUOUS, consumers)
    _play(d, clock, [trade(seq) for _copy, seq in merged])
    for name in names:
        assert [e.seq_provider for e in drain(d, name)] == list(range(1, n + 1))
    assert d.ordering.stats.gaps == 0


@settings(max_examples=200, deadline=None)
@given(book_chain(), st.data(), st.integers(min_value=1, max_value=3))
def test_contiguous_book_ranges_with_prev_seq_fill_ab_gaps(
    chain: list[BookUpdate], data: st.DataObject, consumers: int
) -> None:
    # Reuse the interleaving strategy on indexes into the emitted chain.
    lost_a = data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(chain) - 1))))
    lost_b = data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(chain) - 1))))
    lost_b -= lost_a
    a = [u for i, u in enumerate(chain) if i not in lost_a]
    b = [u for i, u in enumerate(chain) if i not in lost_b]
    picks = data.draw(st.lists(st.booleans(), min_size=len(a) + len(b), max_size=len(a) + len(b)))
    merged: list[Event] = []
    ia = ib = 0
    for take_a in picks:
        if (take_a and ia < len(a)) or ib >= len(b):
            merged.append(a[ia])
            ia += 1
        else:
            merged.append(b[ib])
            ib += 1
    d, clock, names = _dispatcher(OrderingMode.CONTIGUOUS, consumers)
    _play(d, clock, merged)
    for name in names:
        assert [e.seq_provider for e in drain(d, name)] == [u.last_seq for u in chain]
    assert d.ordering.stats.gaps == 0  # a skipped empty diff is not a gap


@settings(max_examples=200, deadline=None)
@given(ab_feeds(), st.integers(min_value=1, max_value=3))
def test_monotonic_streams_never_repeat_or_go_back_but_cannot_fill_gaps(
    feeds: tuple[int, list[tuple[str, int]]], consumers: int
) -> None:
    _n, merged = feeds
    d, clock, names = _dispatcher(OrderingMode.MONOTONIC, consumers)
    _play(d, clock, [trade(seq) for _copy, seq in merged])
    first_seen: list[int] = []
    for _copy, seq in merged:
        if not first_seen or seq > first_seen[-1]:
            first_seen.append(seq)
    for name in names:
        seen = [e.seq_provider for e in drain(d, name)]
        assert seen == first_seen  # delivered at once, in arrival order of new highs
        assert seen == sorted(set(seen))
    assert d.ordering.stats.held == 0


def test_monotonic_mode_drops_the_other_copys_late_fill() -> None:
    d, clock, names = _dispatcher(OrderingMode.MONOTONIC, 1)
    _play(d, clock, [trade(1), trade(3), trade(2)])  # A lost 2; B's 2 comes after A's 3
    assert [e.seq_provider for e in drain(d, names[0])] == [1, 3]
    assert d.ordering.stats.stale_dropped == 1


def test_declare_modes_goes_through_a_context_that_can_and_skips_one_that_cannot() -> None:
    d = Dispatcher()

    class Ctx:
        def set_ordering_mode(self, type_: EventType, mode: OrderingMode) -> None:
            d.set_ordering_mode("fake", type_, mode)

    assert declare_modes(Ctx(), {EventType.TRADE: OrderingMode.CONTIGUOUS})
    assert d.ordering.mode_of(TRADES) is OrderingMode.CONTIGUOUS
    assert d.ordering.mode_of(BOOK) is OrderingMode.MONOTONIC
    assert not declare_modes(object(), {EventType.TRADE: OrderingMode.CONTIGUOUS})
