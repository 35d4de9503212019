"""Binance wire messages -> canonical events (synchronous, hot path).

Decoding is typed (msgspec straight into the Structs of ``schemas.py``, in
:mod:`tradegw_binance.decoding`); levels and prices stay strings until they are turned into
``Decimal`` here, once. Execution reports follow the state table of binance.md section 5.3.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tradegw_binance.decoding import MarketPayload
from tradegw_binance.schemas import (
    BinanceAggTradeMsg,
    BinanceBookTickerMsg,
    BinanceExecutionReportMsg,
    BinanceKlineMsg,
    BinanceOrderMsg,
    BinanceTicker24hMsg,
    BinanceTradeMsg,
    PriceLevel,
)
from tradegw_binance.symbols import BinanceSymbolMap
from tradegw_core.schema.events import (
    EventType,
    ExecReport,
    ExecState,
    KlineSummary,
    Level,
    Side,
    Ticker,
    Trade,
    make_event_id,
)

__all__ = ["BinanceParser", "levels", "map_exec_state"]

_MS_NS = 1_000_000
_ZERO = Decimal(0)


def levels(pairs: Sequence[PriceLevel]) -> tuple[Level, ...]:
    """String ``[price, qty]`` pairs -> exact Levels (a zero qty stays zero: it deletes)."""
    return tuple(Level(Decimal(p), Decimal(q)) for p, q in pairs)


# (x, X) -> canonical state; X alone decides except where the table says otherwise.
_STATE_BY_STATUS: dict[str, ExecState] = {
    "NEW": ExecState.ACK,
    "PENDING_NEW": ExecState.ACK,
    "PARTIALLY_FILLED": ExecState.PARTIAL,
    "FILLED": ExecState.FILLED,
    "CANCELED": ExecState.CANCELLED,
    "REJECTED": ExecState.REJECTED,
    "EXPIRED": ExecState.EXPIRED,
    "EXPIRED_IN_MATCH": ExecState.EXPIRED,
}


def map_exec_state(exec_type: str, status: str) -> ExecState | None:
    """Canonical state for execution type ``x`` and order status ``X``.

    None means "no change" (``PENDING_CANCEL``) or a status this mapper does not know;
    an unknown value is ignored rather than crashing the user stream.
    """
    del exec_type  # binance.md 5.3: the state always comes from X (x only decides fills)
    return _STATE_BY_STATUS.get(status)


def _ms(value: int | None) -> int | None:
    return None if value is None else value * _MS_NS


def _side(value: str | None) -> Side | None:
    if value == "BUY":
        return Side.BUY
    if value == "SELL":
        return Side.SELL
    return None


def _price_or_none(value: str) -> Decimal | None:
    d = Decimal(value)
    return None if d == _ZERO else d


class BinanceParser:
    """Turns decoded Binance payloads into canonical events for one provider."""

    def __init__(self, provider_id: str, symbols: BinanceSymbolMap) -> None:
        self.provider_id = provider_id
        self.symbols = symbols

    def market_event(
        self, msg: MarketPayload, ts_ingest: int
    ) -> Trade | Ticker | KlineSummary | None:
        """The canonical event of a non-depth payload (None for depth diffs: see book.py)."""
        if isinstance(msg, BinanceTradeMsg):
            return self.trade(msg, ts_ingest)
        if isinstance(msg, BinanceAggTradeMsg):
            return self.agg_trade(msg, ts_ingest)
        if isinstance(msg, BinanceBookTickerMsg):
            return self.book_ticker(msg, ts_ingest)
        if isinstance(msg, BinanceTicker24hMsg):
            return self.ticker_24h(msg, ts_ingest)
        if isinstance(msg, BinanceKlineMsg):
            return self.kline(msg, ts_ingest)
        return None

    def trade(self, msg: BinanceTradeMsg, ts_ingest: int) -> Trade:
        """``trade`` -> Trade (``m`` true: the buyer was maker, the aggressor sold)."""
        symbol = self.symbols.to_canonical(msg.s)
        return Trade(
            event_id=make_event_id(self.provider_id, symbol, EventType.TRADE, msg.t),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.t,
            ts_exchange=msg.T * _MS_NS,
            ts_ingest=ts_ingest,
            trade_id=str(msg.t),
            price=Decimal(msg.p),
            qty=Decimal(msg.q),
            side=Side.SELL if msg.m else Side.BUY,
        )

    def agg_trade(self, msg: BinanceAggTradeMsg, ts_ingest: int) -> Trade:
        """``aggTrade`` -> Trade keyed by the aggregate id ``a``."""
        symbol = self.symbols.to_canonical(msg.s)
        return Trade(
            event_id=make_event_id(self.provider_id, symbol, EventType.TRADE, f"a{msg.a}"),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.a,
            ts_exchange=msg.T * _MS_NS,
            ts_ingest=ts_ingest,
            trade_id=f"{msg.f}-{msg.l}",
            price=Decimal(msg.p),
            qty=Decimal(msg.q),
            side=Side.SELL if msg.m else Side.BUY,
        )

    def book_ticker(self, msg: BinanceBookTickerMsg, ts_ingest: int) -> Ticker:
        """``bookTicker`` -> Ticker with best bid/ask (``u`` is its sequence)."""
        symbol = self.symbols.to_canonical(msg.s)
        return Ticker(
            event_id=make_event_id(self.provider_id, symbol, EventType.TICKER, msg.u),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.u,
            ts_exchange=_ms(msg.E),
            ts_ingest=ts_ingest,
            bid_price=Decimal(msg.b),
            bid_qty=Decimal(msg.B),
            ask_price=Decimal(msg.a),
            ask_qty=Decimal(msg.A),
        )

    def ticker_24h(self, msg: BinanceTicker24hMsg, ts_ingest: int) -> Ticker:
        """``24hrTicker`` -> Ticker with last price and 24 h base volume."""
        symbol = self.symbols.to_canonical(msg.s)
        return Ticker(
            event_id=make_event_id(self.provider_id, symbol, EventType.TICKER, f"E{msg.E}"),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=None,
            ts_exchange=msg.E * _MS_NS,
            ts_ingest=ts_ingest,
            bid_price=Decimal(msg.b),
            bid_qty=Decimal(msg.B),
            ask_price=Decimal(msg.a),
            ask_qty=Decimal(msg.A),
            last_price=Decimal(msg.c),
            volume_24h=Decimal(msg.v),
        )

    def kline(self, msg: BinanceKlineMsg, ts_ingest: int) -> KlineSummary:
        """``kline`` -> KlineSummary; ``closed`` only on the final (``x``) candle."""
        k = msg.k
        symbol = self.symbols.to_canonical(msg.s)
        key = f"{k.i}:{k.t}:{msg.E}"
        return KlineSummary(
            event_id=make_event_id(self.provider_id, symbol, EventType.KLINE_SUMMARY, key),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            ts_exchange=msg.E * _MS_NS,
            ts_ingest=ts_ingest,
            interval=k.i,
            open_time=k.t * _MS_NS,
            close_time=k.T * _MS_NS,
            open=Decimal(k.o),
            high=Decimal(k.h),
            low=Decimal(k.l),
            close=Decimal(k.c),
            volume=Decimal(k.v),
            closed=k.x,
        )

    def execution_report(self, msg: BinanceExecutionReportMsg, ts_ingest: int) -> ExecReport | None:
        """``executionReport`` -> ExecReport, or None for "no change" / unknown statuses.

        A fill (``last_qty`` > 0) is reported only when ``x == TRADE`` and ``l > 0``; on a
        cancel event ``C`` names the cancelled order. Dedupe key: (``i``, ``I``).
        """
        state = map_exec_state(msg.x, msg.X)
        if state is None:
            return None
        symbol = self.symbols.to_canonical(msg.s)
        last_qty = Decimal(msg.l)
        is_fill = msg.x == "TRADE" and last_qty > _ZERO
        cum = Decimal(msg.z)
        order_qty = Decimal(msg.q)
        cum_quote = Decimal(msg.Z)
        leaves = _ZERO if state.is_final else max(order_qty - cum, _ZERO)
        reason = msg.eR or ("" if msg.r == "NONE" else msg.r)
        exec_id = msg.I if msg.I is not None else f"{msg.E}:{msg.x}:{msg.z}"
        return ExecReport(
            event_id=make_event_id(
                self.provider_id, symbol, EventType.EXEC_REPORT, f"{msg.i}:{exec_id}"
            ),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.I,
            ts_exchange=_ms(msg.T if msg.T is not None else msg.E),
            ts_ingest=ts_ingest,
            client_order_id=msg.C or msg.c,
            venue_order_id=str(msg.i),
            state=state,
            side=_side(msg.S),
            order_qty=order_qty,
            price=_price_or_none(msg.p),
            last_qty=last_qty if is_fill else _ZERO,
            last_price=Decimal(msg.L) if is_fill else None,
            cum_qty=cum,
            leaves_qty=leaves,
            avg_price=(cum_quote / cum) if cum > _ZERO and cum_quote > _ZERO else None,
            fee=Decimal(msg.n) if is_fill and msg.n else _ZERO,
            fee_asset=msg.N if is_fill else None,
            reason=reason,
            venue_status=msg.X,
        )

    def order_report(self, msg: BinanceOrderMsg, ts_ingest: int) -> ExecReport | None:
        """A REST / WS API order answer -> ExecReport of its current state.

        None for an ``ACK``-type answer (no status) or a status with no canonical state.
        Fees of a ``FULL`` answer are summed when they share one asset.
        """
        if msg.status is None:
            return None
        state = _STATE_BY_STATUS.get(msg.status)
        if state is None:
            return None
        symbol = self.symbols.to_canonical(msg.symbol)
        cum = Decimal(msg.executedQty)
        order_qty = Decimal(msg.origQty)
        cum_quote = Decimal(msg.cummulativeQuoteQty)
        fee = _ZERO
        fee_assets = {f.commissionAsset for f in msg.fills}
        if len(fee_assets) == 1:
            fee = sum((Decimal(f.commission) for f in msg.fills), _ZERO)
        ts = msg.transactTime or msg.updateTime or msg.time
        client_id = msg.origClientOrderId or msg.clientOrderId
        return ExecReport(
            event_id=make_event_id(
                self.provider_id,
                symbol,
                EventType.EXEC_REPORT,
                f"{msg.orderId}:rest:{msg.status}:{msg.executedQty}",
            ),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.symbol,
            ts_exchange=_ms(ts),
            ts_ingest=ts_ingest,
            client_order_id=client_id,
            venue_order_id=str(msg.orderId),
            state=state,
            side=_side(msg.side),
            order_qty=order_qty,
            price=_price_or_none(msg.price),
            cum_qty=cum,
            leaves_qty=_ZERO if state.is_final else max(order_qty - cum, _ZERO),
            avg_price=(cum_quote / cum) if cum > _ZERO and cum_quote > _ZERO else None,
            fee=fee,
            fee_asset=fee_assets.pop() if len(fee_assets) == 1 else None,
            reason=msg.expiryReason or "",
            venue_status=msg.status,
        )
