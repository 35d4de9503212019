"""The live view's rich rendering, wide or compact to fit the terminal.

:func:`render_rich` returns a renderable that lays itself out when rich draws it: at
:data:`COMPACT_BELOW` columns or more, full tables; below, a compact market table (bid
and ask in one column, the last trade's price only, short venue names, no wrapping) and
borderless tables. In both, the market maker's order rows are capped so the whole view
fits the terminal's height and the control hints, drawn last, stay visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from tradegw_core.demo.view import OrderData, ViewData

__all__ = ["COMPACT_BELOW", "SHORT_VENUES", "render_rich"]

COMPACT_BELOW = 120
"""Terminal widths under this many columns get the compact layout."""

SHORT_VENUES: dict[str, str] = {"binance": "bin", "coinbase": "cb", "kraken": "krk"}
"""Venue names in the compact market table (others are cut to five characters)."""


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def _short(venue: str) -> str:
    return SHORT_VENUES.get(venue, venue[:5])


def _table(compact: bool, title: str | None = None) -> Table:
    if compact:
        return Table(
            title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
        )
    return Table(title=title, expand=False)


def _markets(data: ViewData, compact: bool) -> Table:
    table = _table(compact, f"tradegw demo - {data.elapsed_s:.0f}s")
    if compact:
        for col in ("venue", "symbol", "bid / ask", "spread", "last"):
            table.add_column(col, no_wrap=True)
        for col in ("ev/s", "resyncs", "lag ms"):
            table.add_column(col, justify="right", no_wrap=True)
        for r in data.rows:
            last = r.last.split(" ", 1)[0]
            table.add_row(
                _short(r.venue), r.symbol, f"{_fmt(r.bid)} / {_fmt(r.ask)}", _fmt(r.spread),
                last, f"{r.rate:.1f}", str(r.resyncs), f"{r.lag_ms:.1f}",
            )  # fmt: skip
        return table
    for col in ("venue", "symbol", "bid", "ask", "spread", "last trade"):
        table.add_column(col)
    for col in ("events/s", "events", "resyncs", "lag ms"):
        table.add_column(col, justify="right")
    for r in data.rows:
        table.add_row(
            r.venue, r.symbol, _fmt(r.bid), _fmt(r.ask), _fmt(r.spread), r.last,
            f"{r.rate:.1f}", str(r.events), str(r.resyncs), f"{r.lag_ms:.2f}",
        )  # fmt: skip
    return table


def _consumers(data: ViewData, compact: bool) -> Table:
    table = _table(compact, None if compact else "consumers")
    table.add_column("consumer", no_wrap=compact)
    heads = ("events", "exec", "errors", "queued") if compact else (
        "events", "exec reports", "errors", "queued (lag)")  # fmt: skip
    for col in heads:
        table.add_column(col, justify="right", no_wrap=compact)
    for c in data.consumers:
        table.add_row(c.name, str(c.events), str(c.exec_reports), str(c.errors), str(c.queued))
    return table


def _orders(data: ViewData, orders: list[OrderData], compact: bool) -> Table:
    shown = f" ({len(orders)} of {len(data.orders)})" if len(orders) < len(data.orders) else ""
    table = _table(compact, None if compact else data.maker)
    for col in (f"client order id{shown}", "side", "price", "qty", "filled", "state"):
        table.add_column(col, no_wrap=compact)
    for o in orders:
        style = "green" if o.state == "FILLED" else "red" if o.state == "REJECTED" else ""
        table.add_row(
            o.client_order_id, o.side, str(o.price), str(o.qty), str(o.filled), o.state,
            style=style,
        )  # fmt: skip
    return table


class _View:
    """Lays the view out for the width and height rich renders it at."""

    def __init__(self, data: ViewData) -> None:
        self.data = data

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Group]:
        data = self.data
        compact = options.max_width < COMPACT_BELOW
        height = options.height or options.size.height
        head: list[RenderableType] = [_markets(data, compact), _consumers(data, compact)]
        tail: list[RenderableType] = [Text(line, style="cyan") for line in data.spreads]
        tail += [Text(f"skipped {v}: {why}", style="yellow") for v, why in data.skipped.items()]
        tail += [Text(line, style="dim") for line in data.hints]
        if not data.maker:
            yield Group(*head, *tail)
            return
        if compact:
            head.append(Text(data.maker, style="bold"))

        def lines(*parts: RenderableType) -> int:
            return len(console.render_lines(Group(*parts), options.update(height=None)))

        room = height - lines(*head, *tail, _orders(data, [], compact))
        keep = max(0, min(len(data.orders), room))
        orders = data.orders[len(data.orders) - keep :]
        yield Group(*head, _orders(data, orders, compact), *tail)


def render_rich(data: ViewData) -> RenderableType:
    """The live view of ``data``: markets, consumers, the market maker's orders, hints."""
    return _View(data)
