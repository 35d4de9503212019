"""Kraken wire messages as msgspec Structs (WebSocket v2 and REST).

Numbers are decoded straight into ``Decimal``: msgspec keeps the JSON text exactly
(``0.12290`` stays ``Decimal('0.12290')``), which the book checksum depends on. The
``Decimal`` type also takes JSON strings (``"NaN"``, ``"Infinity"``): values are checked
where they are used (:mod:`tradegw_kraken.values`). Unknown
fields are ignored so a venue adding a field breaks nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "KrakenAssetPairMsg",
    "KrakenBookFrameMsg",
    "KrakenBookMsg",
    "KrakenExecutionMsg",
    "KrakenFeeMsg",
    "KrakenFrameMsg",
    "KrakenInstrumentAssetMsg",
    "KrakenInstrumentMsg",
    "KrakenInstrumentPairMsg",
    "KrakenLevelMsg",
    "KrakenMarketFrameMsg",
    "KrakenOhlcFrameMsg",
    "KrakenOhlcMsg",
    "KrakenRestOrderDescrMsg",
    "KrakenRestOrderMsg",
    "KrakenRestResponseMsg",
    "KrakenStatusMsg",
    "KrakenTickerFrameMsg",
    "KrakenTickerMsg",
    "KrakenTradeFrameMsg",
    "KrakenTradeMsg",
]


class KrakenFrameMsg(msgspec.Struct, kw_only=True):
    """Envelope of every v2 frame: a channel message or a method response.

    ``data`` and ``result`` stay raw and are decoded by the channel's own decoder, so one
    frame is parsed once.
    """

    channel: str | None = None
    type: str | None = None
    method: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    sequence: int | None = None
    success: bool | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: str | None = None
    symbol: str | None = None
    """Set on some failed acks: the symbol the failure is about."""
    req_id: int | None = None
    time_in: str | None = None
    time_out: str | None = None


class KrakenLevelMsg(msgspec.Struct, frozen=True):
    """One ``{"price": ..., "qty": ...}`` book level."""

    price: Decimal
    qty: Decimal


class KrakenBookMsg(msgspec.Struct, kw_only=True):
    """One element of a ``book`` snapshot/update ``data`` list (one symbol)."""

    symbol: str
    bids: list[KrakenLevelMsg] = []
    asks: list[KrakenLevelMsg] = []
    checksum: int | None = None
    timestamp: str | None = None


class KrakenTradeMsg(msgspec.Struct, kw_only=True):
    """One ``trade`` entry; ``side`` and ``ord_type`` are the taker's."""

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    trade_id: int
    timestamp: str
    ord_type: str | None = None


class KrakenTickerMsg(msgspec.Struct, kw_only=True):
    """One ``ticker`` entry."""

    symbol: str
    bid: Decimal | None = None
    bid_qty: Decimal | None = None
    ask: Decimal | None = None
    ask_qty: Decimal | None = None
    last: Decimal | None = None
    volume: Decimal | None = None
    vwap: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    change: Decimal | None = None
    change_pct: Decimal | None = None
    timestamp: str | None = None


class KrakenOhlcMsg(msgspec.Struct, kw_only=True):
    """One ``ohlc`` candle (``interval`` in minutes, ``interval_begin`` RFC 3339)."""

    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    interval_begin: str
    interval: int
    trades: int | None = None
    vwap: Decimal | None = None
    timestamp: str | None = None


class KrakenStatusMsg(msgspec.Struct, kw_only=True):
    """The ``status`` channel entry sent first on every connection."""

    system: str
    api_version: str | None = None
    version: str | None = None


class KrakenInstrumentAssetMsg(msgspec.Struct, kw_only=True):
    """One asset of the ``instrument`` channel."""

    id: str
    status: str | None = None
    precision: int | None = None


class KrakenInstrumentPairMsg(msgspec.Struct, kw_only=True):
    """One pair of the ``instrument`` channel (increments use exponent notation)."""

    symbol: str
    base: str
    quote: str
    status: str
    price_precision: int
    qty_precision: int
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    tick_size: Decimal | None = None
    qty_min: Decimal | None = None
    cost_min: Decimal | None = None


class KrakenInstrumentMsg(msgspec.Struct, kw_only=True):
    """The ``data`` object of an ``instrument`` snapshot."""

    assets: list[KrakenInstrumentAssetMsg] = []
    pairs: list[KrakenInstrumentPairMsg] = []


class KrakenFeeMsg(msgspec.Struct, kw_only=True):
    """One fee entry of an execution."""

    asset: str
    qty: Decimal


class KrakenExecutionMsg(msgspec.Struct, kw_only=True):
    """One entry of the ``executions`` channel (snapshot and update share it)."""

    exec_type: str
    order_id: str
    order_status: str | None = None
    cl_ord_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    time_in_force: str | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    liquidity_ind: str | None = None
    cost: Decimal | None = None
    fees: list[KrakenFeeMsg] = []
    cum_qty: Decimal | None = None
    fee_usd_equiv: Decimal | None = None
    cum_cost: Decimal | None = None
    avg_price: Decimal | None = None
    reason: str | None = None
    timestamp: str | None = None


class KrakenAssetPairMsg(msgspec.Struct, kw_only=True):
    """One pair of REST ``/0/public/AssetPairs`` (``wsname`` is the v1 name, ``XBT/USD``)."""

    altname: str
    base: str
    quote: str
    pair_decimals: int
    lot_decimals: int
    wsname: str | None = None
    ordermin: Decimal | None = None
    costmin: Decimal | None = None
    tick_size: Decimal | None = None
    status: str | None = None


class KrakenRestOrderDescrMsg(msgspec.Struct, kw_only=True):
    """``descr`` of a REST order."""

    pair: str | None = None
    type: str | None = None
    ordertype: str | None = None
    price: Decimal | None = None
    order: str | None = None


class KrakenRestOrderMsg(msgspec.Struct, kw_only=True):
    """One order of REST ``QueryOrders`` / ``OpenOrders`` / ``ClosedOrders`` (strings)."""

    status: str
    descr: KrakenRestOrderDescrMsg
    vol: Decimal
    vol_exec: Decimal
    cost: Decimal | None = None
    fee: Decimal | None = None
    price: Decimal | None = None
    reason: str | None = None
    cl_ord_id: str | None = None
    opentm: Decimal | None = None
    closetm: Decimal | None = None


class _ChannelFrame(msgspec.Struct, kw_only=True, tag_field="channel"):
    """A channel frame decoded in one pass (tagged on ``channel``)."""

    type: str | None = None


class KrakenBookFrameMsg(_ChannelFrame, tag="book", kw_only=True):
    """A whole ``book`` frame."""

    data: list[KrakenBookMsg]


class KrakenTradeFrameMsg(_ChannelFrame, tag="trade", kw_only=True):
    """A whole ``trade`` frame."""

    data: list[KrakenTradeMsg]


class KrakenTickerFrameMsg(_ChannelFrame, tag="ticker", kw_only=True):
    """A whole ``ticker`` frame."""

    data: list[KrakenTickerMsg]


class KrakenOhlcFrameMsg(_ChannelFrame, tag="ohlc", kw_only=True):
    """A whole ``ohlc`` frame."""

    data: list[KrakenOhlcMsg]


KrakenMarketFrameMsg = (
    KrakenBookFrameMsg | KrakenTradeFrameMsg | KrakenTickerFrameMsg | KrakenOhlcFrameMsg
)
"""The market-data frames the provider decodes in one pass."""


class KrakenRestResponseMsg(msgspec.Struct, kw_only=True):
    """Every REST answer: ``error`` (list of strings) and ``result``."""

    error: list[str] = []
    result: Any = None
