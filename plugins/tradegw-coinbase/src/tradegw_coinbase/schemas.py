"""Coinbase Advanced Trade wire models (msgspec Structs), exactly as the venue sends them.

WebSocket frames share one envelope ``{"channel", "client_id", "timestamp", "sequence_num",
"events"}`` and are decoded into a tagged union on ``channel``. Note the level-2 channel is
subscribed as ``level2`` but its messages arrive on channel ``l2_data``. Error frames have
no channel (``{"type": "error", "message": ...}``) and decode into :class:`CoinbaseOtherMsg`.
Numbers stay strings here: they become ``Decimal`` once, where they are used (parsing).
Field facts: ``shared/docs/protocols/coinbase.md`` sections 1, 3 and 5.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

__all__ = [
    "CoinbaseCandle",
    "CoinbaseCandlesEvent",
    "CoinbaseCandlesMsg",
    "CoinbaseHeartbeatsEvent",
    "CoinbaseHeartbeatsMsg",
    "CoinbaseL2DataMsg",
    "CoinbaseL2Event",
    "CoinbaseL2Level",
    "CoinbaseMarketTrade",
    "CoinbaseMarketTradesEvent",
    "CoinbaseMarketTradesMsg",
    "CoinbaseMsg",
    "CoinbaseOrderMsg",
    "CoinbaseOtherMsg",
    "CoinbasePricebook",
    "CoinbaseProductBookMsg",
    "CoinbaseProductMsg",
    "CoinbaseProductsMsg",
    "CoinbaseRestLevel",
    "CoinbaseSubscriptionsEvent",
    "CoinbaseSubscriptionsMsg",
    "CoinbaseTicker",
    "CoinbaseTickerBatchMsg",
    "CoinbaseTickerEvent",
    "CoinbaseTickerMsg",
    "CoinbaseUserEvent",
    "CoinbaseUserMsg",
    "CoinbaseUserOrder",
    "CoinbaseWsMsg",
]


class _Envelope(msgspec.Struct, kw_only=True, tag_field="channel"):
    """Fields every WebSocket data frame carries (``client_id`` is absent on some)."""

    client_id: str = ""
    timestamp: str = ""
    sequence_num: int


# ---- level2 (channel l2_data) --------------------------------------------------------------


class CoinbaseL2Level(msgspec.Struct, kw_only=True):
    """One level change: ``new_quantity`` is the new absolute size, ``"0"`` removes."""

    side: str
    """``bid`` or ``offer``."""
    price_level: str
    new_quantity: str
    event_time: str = ""


class CoinbaseL2Event(msgspec.Struct, kw_only=True):
    """A ``snapshot`` (whole book) or ``update`` for one product."""

    type: str
    product_id: str
    updates: list[CoinbaseL2Level] = []


class CoinbaseL2DataMsg(_Envelope, tag="l2_data", kw_only=True):
    """A ``level2`` subscription's frame; one frame may hold several products' events."""

    events: list[CoinbaseL2Event] = []


# ---- market_trades --------------------------------------------------------------------------


class CoinbaseMarketTrade(msgspec.Struct, kw_only=True):
    """One public trade; ``side`` is documented as the maker's side."""

    trade_id: str
    product_id: str
    price: str
    size: str
    side: str
    time: str = ""


class CoinbaseMarketTradesEvent(msgspec.Struct, kw_only=True):
    """A snapshot of recent trades or an update batch (250 ms)."""

    type: str = "update"
    trades: list[CoinbaseMarketTrade] = []


class CoinbaseMarketTradesMsg(_Envelope, tag="market_trades", kw_only=True):
    """A ``market_trades`` frame."""

    events: list[CoinbaseMarketTradesEvent] = []


# ---- ticker / ticker_batch ------------------------------------------------------------------


class CoinbaseTicker(msgspec.Struct, kw_only=True):
    """One ticker; ``ticker_batch`` omits the best bid/ask fields."""

    product_id: str
    price: str = ""
    type: str = "ticker"
    volume_24_h: str = ""
    low_24_h: str = ""
    high_24_h: str = ""
    low_52_w: str = ""
    high_52_w: str = ""
    price_percent_chg_24_h: str = ""
    best_bid: str = ""
    best_bid_quantity: str = ""
    best_ask: str = ""
    best_ask_quantity: str = ""


class CoinbaseTickerEvent(msgspec.Struct, kw_only=True):
    """A ticker snapshot or update."""

    type: str = "update"
    tickers: list[CoinbaseTicker] = []


class CoinbaseTickerMsg(_Envelope, tag="ticker", kw_only=True):
    """A ``ticker`` frame."""

    events: list[CoinbaseTickerEvent] = []


class CoinbaseTickerBatchMsg(_Envelope, tag="ticker_batch", kw_only=True):
    """A ``ticker_batch`` frame (every 5 s, without bid/ask)."""

    events: list[CoinbaseTickerEvent] = []


# ---- candles --------------------------------------------------------------------------------


class CoinbaseCandle(msgspec.Struct, kw_only=True):
    """A 5-minute candle; ``start`` is UNIX seconds as a string."""

    start: str
    high: str
    low: str
    open: str
    close: str
    volume: str
    product_id: str = ""


class CoinbaseCandlesEvent(msgspec.Struct, kw_only=True):
    """A candles snapshot (up to 100) or update."""

    type: str = "update"
    candles: list[CoinbaseCandle] = []


class CoinbaseCandlesMsg(_Envelope, tag="candles", kw_only=True):
    """A ``candles`` frame."""

    events: list[CoinbaseCandlesEvent] = []


# ---- heartbeats / subscriptions -------------------------------------------------------------


class CoinbaseHeartbeatsEvent(msgspec.Struct, kw_only=True):
    """One heartbeat; the counter is an integer live and a string in older docs."""

    current_time: str = ""
    heartbeat_counter: int | str = 0


class CoinbaseHeartbeatsMsg(_Envelope, tag="heartbeats", kw_only=True):
    """A ``heartbeats`` frame (every second)."""

    events: list[CoinbaseHeartbeatsEvent] = []


class CoinbaseSubscriptionsEvent(msgspec.Struct, kw_only=True):
    """Everything the connection is subscribed to now: channel -> product ids."""

    subscriptions: dict[str, list[str]] = {}


class CoinbaseSubscriptionsMsg(_Envelope, tag="subscriptions", kw_only=True):
    """The ack of a subscribe or unsubscribe."""

    events: list[CoinbaseSubscriptionsEvent] = []


# ---- user -----------------------------------------------------------------------------------


class CoinbaseUserOrder(msgspec.Struct, kw_only=True):
    """One order's state on the ``user`` channel (all numbers decimal strings)."""

    order_id: str
    client_order_id: str = ""
    product_id: str = ""
    status: str
    order_side: str = ""
    order_type: str = ""
    time_in_force: str = ""
    limit_price: str = ""
    stop_price: str = ""
    cumulative_quantity: str = "0"
    leaves_quantity: str = "0"
    avg_price: str = "0"
    number_of_fills: str = "0"
    filled_value: str = "0"
    total_fees: str = "0"
    total_value_after_fees: str = ""
    creation_time: str = ""
    cancel_reason: str = ""
    reject_reason: str = ""
    product_type: str = ""
    trigger_status: str = ""
    outstanding_hold_amount: str = ""
    completion_percentage: str = ""
    post_only: bool | None = None


class CoinbaseUserEvent(msgspec.Struct, kw_only=True):
    """A snapshot (open orders, 50 per event) or an update."""

    type: str
    orders: list[CoinbaseUserOrder] = []
    positions: Any = None


class CoinbaseUserMsg(_Envelope, tag="user", kw_only=True):
    """A ``user`` frame (own orders)."""

    events: list[CoinbaseUserEvent] = []


class CoinbaseOtherMsg(msgspec.Struct, kw_only=True):
    """Any other frame: an error (``{"type": "error", "message": ...}``, e.g. "failure to
    subscribe" or "authentication failure") or a channel this adapter does not parse
    (``status``, ``futures_balance_summary``), kept so its ``sequence_num`` still counts.
    """

    type: str = ""
    message: str = ""
    channel: str = ""
    sequence_num: int | None = None

    @property
    def is_error(self) -> bool:
        """True for an error frame."""
        return self.type == "error"


CoinbaseWsMsg: TypeAlias = (
    CoinbaseL2DataMsg
    | CoinbaseMarketTradesMsg
    | CoinbaseTickerMsg
    | CoinbaseTickerBatchMsg
    | CoinbaseCandlesMsg
    | CoinbaseHeartbeatsMsg
    | CoinbaseSubscriptionsMsg
    | CoinbaseUserMsg
)
"""Every data frame, tagged by ``channel``."""

CoinbaseMsg: TypeAlias = CoinbaseWsMsg | CoinbaseOtherMsg


# ---- REST -----------------------------------------------------------------------------------


class CoinbaseProductMsg(msgspec.Struct, kw_only=True):
    """One product from ``GET /market/products`` (fields the adapter uses)."""

    product_id: str
    base_currency_id: str = ""
    quote_currency_id: str = ""
    base_increment: str = "0"
    quote_increment: str = "0"
    price_increment: str = ""
    base_min_size: str = "0"
    base_max_size: str = ""
    quote_min_size: str = "0"
    quote_max_size: str = ""
    status: str = ""
    trading_disabled: bool = False
    is_disabled: bool = False
    cancel_only: bool = False
    limit_only: bool = False
    post_only: bool = False
    auction_mode: bool = False
    product_type: str = "SPOT"
    alias: str = ""
    alias_to: list[str] = []
    price: str = ""


class CoinbaseProductsMsg(msgspec.Struct, kw_only=True):
    """``GET /market/products`` answer."""

    products: list[CoinbaseProductMsg] = []
    num_products: int = 0


class CoinbaseRestLevel(msgspec.Struct, kw_only=True):
    """One REST book level."""

    price: str
    size: str


class CoinbasePricebook(msgspec.Struct, kw_only=True):
    """The ``pricebook`` object of ``GET /market/product_book``."""

    product_id: str
    bids: list[CoinbaseRestLevel] = []
    asks: list[CoinbaseRestLevel] = []
    time: str = ""


class CoinbaseProductBookMsg(msgspec.Struct, kw_only=True):
    """``GET /market/product_book`` answer (no sequence links it to the stream)."""

    pricebook: CoinbasePricebook
    last: str = ""
    mid_market: str = ""
    spread_bps: str = ""
    spread_absolute: str = ""


class CoinbaseOrderMsg(msgspec.Struct, kw_only=True):
    """One order from ``GET /orders/historical/{id}`` or ``/orders/historical/batch``."""

    order_id: str
    product_id: str = ""
    client_order_id: str = ""
    side: str = ""
    status: str = ""
    order_configuration: dict[str, dict[str, Any]] = {}
    time_in_force: str = ""
    created_time: str = ""
    completion_percentage: str = ""
    filled_size: str = "0"
    average_filled_price: str = "0"
    number_of_fills: str = "0"
    filled_value: str = "0"
    total_fees: str = "0"
    order_type: str = ""
    reject_reason: str = ""
    reject_message: str = ""
    cancel_message: str = ""
    pending_cancel: bool = False
