"""Binance spot wire messages as msgspec Structs (field names are the venue's).

Prices and quantities are decoded as strings and converted to ``Decimal`` once, where they
are used (``parsing.py``): decoding straight to Decimal costs three times as much per frame.
Optional fields carry defaults because real and documented payloads differ in what they
include (e.g. older ``executionReport`` payloads have no ``I``/``W``/``V``).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = [
    "BinanceAggTradeMsg",
    "BinanceBookTickerMsg",
    "BinanceDepthDiffMsg",
    "BinanceDepthSnapshotMsg",
    "BinanceErrorMsg",
    "BinanceEventHeader",
    "BinanceExchangeInfoMsg",
    "BinanceExecutionReportMsg",
    "BinanceFillMsg",
    "BinanceKlineData",
    "BinanceKlineMsg",
    "BinanceOrderMsg",
    "BinanceStreamData",
    "BinanceStreamFrame",
    "BinanceSymbolInfo",
    "BinanceTicker24hMsg",
    "BinanceTradeMsg",
    "BinanceUserEventFrame",
    "BinanceWsApiError",
    "BinanceWsApiFrame",
    "PriceLevel",
]

PriceLevel = tuple[str, str]
"""``[price, quantity]`` as the venue sends it (strings)."""

PayloadT = TypeVar("PayloadT")


class BinanceStreamFrame(msgspec.Struct, frozen=True):
    """One frame of a combined-stream connection: data, a control ack or a control error.

    Data: ``{"stream": "<name>", "data": {...}}``; ack: ``{"result": null, "id": 1}``;
    error: ``{"code": 2, "msg": "...", "id": 1}``. An absent ``data``/``result`` is an
    empty ``Raw``; a JSON ``null`` result is ``Raw(b"null")``.
    """

    stream: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    result: msgspec.Raw = msgspec.Raw(b"")
    id: int | str | None = None
    code: int | None = None
    msg: str | None = None


class BinanceStreamData(msgspec.Struct, Generic[PayloadT], frozen=True, gc=False):
    """A data frame of a combined stream with its payload typed: one decode pass per frame."""

    stream: str
    data: PayloadT


class BinanceDepthDiffMsg(msgspec.Struct, frozen=True, gc=False):
    """``depthUpdate``: levels with absolute quantities covering update ids ``U``..``u``."""

    E: int
    s: str
    U: int
    u: int
    b: list[PriceLevel]
    a: list[PriceLevel]
    e: str = "depthUpdate"


class BinanceDepthSnapshotMsg(msgspec.Struct, frozen=True):
    """REST ``GET /api/v3/depth`` answer (also the partial-book stream payload)."""

    lastUpdateId: int
    bids: list[PriceLevel]
    asks: list[PriceLevel]


class BinanceTradeMsg(msgspec.Struct, frozen=True):
    """``trade``: ``m`` true means the buyer was the maker, so the aggressor sold."""

    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool
    e: str = "trade"


class BinanceAggTradeMsg(msgspec.Struct, frozen=True, gc=False):
    """``aggTrade``: trades of one taker order at one price (``a`` aggregate id)."""

    E: int
    s: str
    a: int
    p: str
    q: str
    f: int
    l: int  # noqa: E741 - the venue's field name
    T: int
    m: bool
    e: str = "aggTrade"


class BinanceBookTickerMsg(msgspec.Struct, frozen=True, gc=False):
    """``bookTicker``: best bid/offer; ``u`` shares the depth update-id space."""

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    E: int | None = None
    T: int | None = None


class BinanceTicker24hMsg(msgspec.Struct, frozen=True):
    """``24hrTicker``: rolling 24 h window statistics."""

    E: int
    s: str
    c: str
    b: str
    B: str
    a: str
    A: str
    o: str
    h: str
    l: str  # noqa: E741 - the venue's field name
    v: str
    q: str
    e: str = "24hrTicker"
    L: int | None = None


class BinanceKlineData(msgspec.Struct, frozen=True):
    """The ``k`` object of a kline event; ``x`` marks the closed candle."""

    t: int
    T: int
    s: str
    i: str
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - the venue's field name
    v: str
    x: bool
    n: int = 0
    q: str = "0"


class BinanceKlineMsg(msgspec.Struct, frozen=True):
    """``kline`` event."""

    E: int
    s: str
    k: BinanceKlineData
    e: str = "kline"


class BinanceExecutionReportMsg(msgspec.Struct, frozen=True):
    """``executionReport`` of the user data stream (binance.md section 5.2)."""

    E: int
    s: str
    c: str
    S: str
    o: str
    x: str
    X: str
    i: int
    q: str = "0"
    p: str = "0"
    f: str = ""
    C: str | None = ""
    r: str = "NONE"
    l: str = "0"  # noqa: E741 - the venue's field name
    z: str = "0"
    L: str = "0"
    n: str | None = "0"
    N: str | None = None
    T: int | None = None
    t: int = -1
    I: int | None = None  # noqa: E741 - the venue's field name
    w: bool = False
    m: bool = False
    O: int | None = None  # noqa: E741 - the venue's field name
    Z: str = "0"
    Y: str = "0"
    Q: str = "0"
    W: int | None = None
    V: str | None = None
    eR: str | None = None
    e: str = "executionReport"


class BinanceUserEventFrame(msgspec.Struct, frozen=True):
    """A user-data event on the WebSocket API: ``{"subscriptionId": 0, "event": {...}}``."""

    event: msgspec.Raw
    subscriptionId: int | None = None


class BinanceWsApiError(msgspec.Struct, frozen=True):
    """``error`` of a WebSocket API answer; ``data`` may carry ``retryAfter`` (epoch ms)."""

    code: int
    msg: str
    data: dict[str, Any] | None = None


class BinanceWsApiFrame(msgspec.Struct, frozen=True):
    """Any frame of a WebSocket API connection.

    An answer has ``id`` and ``status`` (and ``result`` or ``error``); a user-data event
    has ``event`` (and ``subscriptionId``); ``serverShutdown`` comes as a bare ``event``.
    """

    id: int | str | None = None
    status: int | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: BinanceWsApiError | None = None
    subscriptionId: int | None = None
    event: msgspec.Raw = msgspec.Raw(b"")


class BinanceEventHeader(msgspec.Struct, frozen=True):
    """The event type (and time) of any user-data or system event."""

    e: str
    E: int | None = None


class BinanceErrorMsg(msgspec.Struct, frozen=True):
    """A REST error body: ``{"code": -1121, "msg": "Invalid symbol."}``."""

    code: int
    msg: str


class BinanceFillMsg(msgspec.Struct, frozen=True):
    """One fill of a ``FULL`` order answer."""

    price: str
    qty: str
    commission: str
    commissionAsset: str
    tradeId: int


class BinanceOrderMsg(msgspec.Struct, frozen=True):
    """An order as REST (new / cancel / query) and the WS API return it.

    ``ACK`` answers carry only the first five fields. On a cancel, ``origClientOrderId``
    is the order's id and ``clientOrderId`` the cancel's.
    """

    symbol: str
    orderId: int
    clientOrderId: str
    orderListId: int = -1
    transactTime: int | None = None
    price: str = "0"
    origQty: str = "0"
    executedQty: str = "0"
    cummulativeQuoteQty: str = "0"
    status: str | None = None
    timeInForce: str | None = None
    type: str | None = None
    side: str | None = None
    origClientOrderId: str | None = None
    time: int | None = None
    updateTime: int | None = None
    workingTime: int | None = None
    expiryReason: str | None = None
    fills: list[BinanceFillMsg] = []


class BinanceSymbolInfo(msgspec.Struct, frozen=True):
    """One ``exchangeInfo.symbols[]`` entry; filters stay dicts (the set keeps growing)."""

    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    baseAssetPrecision: int = 8
    quoteAssetPrecision: int | None = None
    quotePrecision: int | None = None
    orderTypes: list[str] = []
    isSpotTradingAllowed: bool = True
    filters: list[dict[str, Any]] = []


class BinanceExchangeInfoMsg(msgspec.Struct, frozen=True):
    """REST ``GET /api/v3/exchangeInfo`` (the parts the adapter uses)."""

    symbols: list[BinanceSymbolInfo]
    serverTime: int | None = None
    timezone: str = "UTC"
    rateLimits: list[dict[str, Any]] = []
