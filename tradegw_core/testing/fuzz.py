"""Hostile mutations of real venue frames, and the value rules events must keep (issue 20).

For Hypothesis fuzz tests of a venue's frame handlers: :func:`mutated_frames` draws one of
the given real frames (captures or emulator recordings, as text) and applies one hostile
edit: a value replaced by ``"NaN"``, ``"sNaN"``, ``"Infinity"``, a negative or huge number,
full-width digits, a wrong type...; a member deleted; a string swapped for another of the
frame's strings (``update`` -> ``snapshot``, one symbol for another, ``bids`` <-> ``asks``);
an object repeated thousands of times; the text truncated or a byte inserted; a value or
the whole frame nested thousands of levels deep. :func:`event_problems` lists what is
wrong with an emitted event (a malformed value reaching a consumer)::

    @given(frame=mutated_frames(seeds))
    def run(frame: str) -> None:
        provider_on_frame(frame.encode(), 0)            # must not raise
        assert not [p for e in new_events for p in event_problems(e, instruments)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import strategies as st

from tradegw_core.schema.events import BookSnapshot, Event, Level
from tradegw_core.schema.symbols import Instrument

__all__ = ["HOSTILE_VALUES", "book_problems", "event_problems", "mutated_frames"]

HOSTILE_VALUES: tuple[str, ...] = (
    '"NaN"', '"sNaN"', '"-NaN"', '"Infinity"', '"-Infinity"', '"inf"', "-1", "-0.0", "0",
    "0.0", "1e400", "-1e400", "1E+2", "1e-30", '"\\uff11\\uff12\\uff13"',
    '"\uff11\uff12\uff13.\uff15"',
    '"1_000"', '" 1 "', '"+1"', '"1e5"', '"abc"', '""', "null", "true", "[]", "{}", '"-5"',
    "123456789012345678901234567890.123456789", "0.000000000000000000001",
    "18446744073709551616", "-9223372036854775809", '"2026-13-40T25:61:61Z"',
    '"9999-12-31T23:59:59.9999999999Z"', '"x"',
)  # fmt: skip
"""JSON texts a hostile or broken venue might put where a value belongs."""

_SCALAR = re.compile(r'(?<=:)\s*(-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)')
_MEMBER = re.compile(
    r'"(?:[^"\\]|\\.)*"\s*:\s*(?:-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)'
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_INNER_OBJECT = re.compile(r"\{[^{}\[\]]*\}")


@st.composite
def mutated_frames(draw: st.DrawFn, seeds: Sequence[str]) -> str:
    """One of ``seeds`` (JSON texts) with one hostile edit (see the module docstring)."""
    text = draw(st.sampled_from(list(seeds)))
    kind = draw(
        st.sampled_from(
            ["value", "value", "value", "delete", "swap", "repeat", "truncate", "byte", "nest"]
        )
    )
    if kind == "value":
        spans = [m.span(1) for m in _SCALAR.finditer(text)]
        if spans:
            start, end = draw(st.sampled_from(spans))
            value = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), _json_numbers()))
            return text[:start] + value + text[end:]
    elif kind == "delete":
        spans = [m.span() for m in _MEMBER.finditer(text)]
        if spans:
            start, end = draw(st.sampled_from(spans))
            tail = end + 1 if text[end : end + 1] == "," else end
            return text[:start] + text[tail:]
    elif kind == "swap":
        strings = [m.span() for m in _STRING.finditer(text)]
        if len(strings) > 1:
            start, end = draw(st.sampled_from(strings))
            other = draw(st.sampled_from(strings))
            return text[:start] + text[other[0] : other[1]] + text[end:]
    elif kind == "repeat":
        objects = [m.span() for m in _INNER_OBJECT.finditer(text)]
        if objects:
            start, end = draw(st.sampled_from(objects))
            times = draw(st.sampled_from([2, 3, 50, 3000]))
            return text[:end] + ("," + text[start:end]) * times + text[end:]
    elif kind == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif kind == "byte":
        at = draw(st.integers(0, len(text)))
        char = draw(
            st.sampled_from(["\x00", "\x7f", "\u00e9", "\uff11", '"', "}", "]", ",", "\\", "-"])
        )
        return text[:at] + char + text[at:]
    depth = draw(st.sampled_from([2, 64, 1000, 20000]))
    scalars = [m.span(1) for m in _SCALAR.finditer(text)]
    inner: bool = draw(st.booleans())
    if scalars and inner:
        start, end = draw(st.sampled_from(scalars))
        return text[:start] + "[" * depth + text[start:end] + "]" * depth + text[end:]
    return "[" * depth + text + "]" * depth


def _json_numbers() -> st.SearchStrategy[str]:
    """Numbers as JSON text: small and huge, negative, with many decimals."""
    return st.one_of(
        st.integers(-(10**30), 10**30).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=12).map(str),
    )


def event_problems(event: Event, instruments: Mapping[str, Instrument]) -> list[str]:
    """What is malformed in ``event``: non-finite or negative amounts, prices <= 0, book
    levels or trade values off the instrument's precision (empty when all is sane).

    Fields named ``*price*`` (and every ``Level.price``) must be > 0; every other Decimal
    field must be finite and >= 0, except ``fee`` (rebates are negative).
    """
    inst = instruments.get(event.symbol)
    problems: list[str] = []
    for name, value in msgspec.structs.asdict(event).items():
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if isinstance(item, Level):
                problems += _amount(f"{name}.price", item.price, True, _pp(inst))
                problems += _amount(f"{name}.qty", item.qty, False, _qp(inst))
            elif isinstance(item, Decimal) and name != "fee":
                problems += _amount(name, item, "price" in name, None)
            elif isinstance(item, Decimal) and not item.is_finite():
                problems.append(f"{name}={item!r} is not finite")
    if getattr(event, "TYPE", None) == "Trade" and inst is not None:
        trade: Any = event
        problems += _amount("price", trade.price, True, inst.price_precision)
        problems += _amount("qty", trade.qty, False, inst.qty_precision)
    return problems


def book_problems(
    instrument: Instrument, bids: Sequence[Level], asks: Sequence[Level], depth: int | None = None
) -> list[str]:
    """What is wrong with a kept book (best levels first): malformed values, a crossed book,
    more than ``depth`` levels a side (empty when all is sane)."""
    book = BookSnapshot(
        event_id="-", provider=instrument.provider, symbol=instrument.symbol,
        venue_symbol=instrument.venue_symbol, bids=tuple(bids), asks=tuple(asks),
    )  # fmt: skip
    problems = event_problems(book, {instrument.symbol: instrument})
    if bids and asks and bids[0].price >= asks[0].price:
        problems.append(f"crossed: {bids[0]} >= {asks[0]}")
    if depth is not None and max(len(bids), len(asks)) > depth:
        problems.append(f"deeper than the subscribed {depth} levels")
    return problems


def _pp(inst: Instrument | None) -> int | None:
    return None if inst is None else inst.price_precision


def _qp(inst: Instrument | None) -> int | None:
    return None if inst is None else inst.qty_precision


def _amount(name: str, value: Decimal, positive: bool, precision: int | None) -> list[str]:
    if not value.is_finite():
        return [f"{name}={value!r} is not finite"]
    if value < 0 or (positive and value == 0):
        return [f"{name}={value} is out of range"]
    if precision is not None:
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        extra = -precision - exponent
        if extra > 0 and any(digits[-extra:]):
            return [f"{name}={value} has more than {precision} decimals"]
    return []
