"""Binance wire messages -> canonical events (synchronous, hot path).

Decoding is typed (msgspec straight into the Structs of ``schemas.py``, in
:mod:`tradegw_binance.decoding`); levels and prices stay strings until they are turned into
``Decimal`` here, once. Execution reports follow the state table of binance.md section 5.3.
"""

from __future__ import annotations

from decimal import Decimal

from tradegw_binance.schemas import (
    BinanceAggTradeMsg,
    BinanceBookTickerMsg,
    BinanceExecutionReportMsg,
    BinanceKlineMsg,
    BinanceOrderMsg,
    BinanceTicker24hMsg,
    BinanceTradeMsg,
)
from tradegw_binance.symbols import BinanceSymbolMap
from tradegw_binance.values import BookValues, FrameRejected, strict_decimal
from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import (
    EventType,
    ExecReport,
    ExecState,
    KlineSummary,
    Side,
    Ticker,
    Trade,
    make_event_id,
)

__all__ = ["BinanceParser", "map_exec_state"]

_MS_NS = 1_000_000
_ZERO = Decimal(0)
# Event types as plain str: formatting a StrEnum member into an id costs ~10x more.
_TRADE = EventType.TRADE.value
_TICKER = EventType.TICKER.value
_KLINE_SUMMARY = EventType.KLINE_SUMMARY.value
_EXEC_REPORT = EventType.EXEC_REPORT.value


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
    d = strict_decimal(value)
    return None if d == _ZERO else d


_WIDE = 18
"""Decimals allowed in fees and quote amounts (computed values, not venue steps)."""


def _opt_decimal(value: str | None) -> Decimal:
    return strict_decimal(value, scale=_WIDE) if value else _ZERO


class BinanceParser:
    """Turns decoded Binance payloads into canonical events for one provider."""

    def __init__(
        self, provider_id: str, symbols: BinanceSymbolMap, values: BookValues | None = None
    ) -> None:
        self.provider_id = provider_id
        self.symbols = symbols
        self.values = values if values is not None else BookValues()
        self._known: dict[str, tuple[str, str, str]] = {}

    def _names(self, venue_symbol: str) -> tuple[str, str, str]:
        """(canonical symbol, Trade id prefix, Ticker id prefix) of a listed venue symbol.

        FrameRejected(``unknown_symbol``) when it is not listed. Kept per exact venue
        symbol (so at most one entry per listed symbol).
        """
        names = self._known.get(venue_symbol)
        if names is None:
            symbol = self.canonical(venue_symbol)
            pid = self.provider_id
            names = (
                symbol,
                make_event_id(pid, symbol, _TRADE, ""),
                make_event_id(pid, symbol, _TICKER, ""),
            )
            if venue_symbol == venue_symbol.upper():  # one entry per listed symbol
                self._known[venue_symbol] = names
        return names

    def canonical(self, venue_symbol: str) -> str:
        """The canonical symbol; FrameRejected(``unknown_symbol``) when it is not listed."""
        try:
            return self.symbols.to_canonical(venue_symbol)
        except SchemaError as exc:
            raise FrameRejected("unknown_symbol", str(exc)) from exc

    def price(self, text: str) -> Decimal:
        """A validated price (> 0, at most the venue's decimals)."""
        prices = self.values.prices
        return (prices.get(text) or prices.parse(text))[1]

    def qty(self, text: str) -> Decimal:
        """A validated quantity (>= 0, at most the venue's decimals)."""
        qtys = self.values.qtys
        return (qtys.get(text) or qtys.parse(text))[1]

    def trade(self, msg: BinanceTradeMsg, ts_ingest: int) -> Trade:
        """``trade`` -> Trade (``m`` true: the buyer was maker, the aggressor sold)."""
        symbol, trade_id, _ = self._names(msg.s)
        return Trade(
            event_id=f"{trade_id}{msg.t}",
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.t,
            ts_exchange=msg.T * _MS_NS,
            ts_ingest=ts_ingest,
            trade_id=str(msg.t),
            price=self.price(msg.p),
            qty=self.qty(msg.q),
            side=Side.SELL if msg.m else Side.BUY,
        )

    def agg_trade(self, msg: BinanceAggTradeMsg, ts_ingest: int) -> Trade:
        """``aggTrade`` -> Trade keyed by the aggregate id ``a``."""
        symbol, trade_id, _ = self._names(msg.s)
        return Trade(
            event_id=f"{trade_id}a{msg.a}",
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.a,
            ts_exchange=msg.T * _MS_NS,
            ts_ingest=ts_ingest,
            trade_id=f"{msg.f}-{msg.l}",
            price=self.price(msg.p),
            qty=self.qty(msg.q),
            side=Side.SELL if msg.m else Side.BUY,
        )

    def book_ticker(self, msg: BinanceBookTickerMsg, ts_ingest: int) -> Ticker:
        """``bookTicker`` -> Ticker with best bid/ask (``u`` is its sequence)."""
        symbol, _, ticker_id = self._names(msg.s)
        bid, ask = self.price(msg.b), self.price(msg.a)
        if bid >= ask:
            raise FrameRejected("crossed", f"{msg.s} bookTicker bid {msg.b} >= ask {msg.a}")
        return Ticker(
            event_id=f"{ticker_id}{msg.u}",
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=msg.u,
            ts_exchange=_ms(msg.E),
            ts_ingest=ts_ingest,
            bid_price=bid,
            bid_qty=self.qty(msg.B),
            ask_price=ask,
            ask_qty=self.qty(msg.A),
        )

    def ticker_24h(self, msg: BinanceTicker24hMsg, ts_ingest: int) -> Ticker:
        """``24hrTicker`` -> Ticker with last price and 24 h base volume."""
        symbol = self.canonical(msg.s)
        bid, ask = self.price(msg.b), self.price(msg.a)
        if bid >= ask:
            raise FrameRejected("crossed", f"{msg.s} 24hrTicker bid {msg.b} >= ask {msg.a}")
        return Ticker(
            event_id=make_event_id(self.provider_id, symbol, _TICKER, f"E{msg.E}"),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            seq_provider=None,
            ts_exchange=msg.E * _MS_NS,
            ts_ingest=ts_ingest,
            bid_price=bid,
            bid_qty=self.qty(msg.B),
            ask_price=ask,
            ask_qty=self.qty(msg.A),
            last_price=self.price(msg.c),
            volume_24h=strict_decimal(msg.v),
        )

    def kline(self, msg: BinanceKlineMsg, ts_ingest: int) -> KlineSummary:
        """``kline`` -> KlineSummary; ``closed`` only on the final (``x``) candle."""
        k = msg.k
        symbol = self.canonical(msg.s)
        key = f"{k.i}:{k.t}:{msg.E}"
        return KlineSummary(
            event_id=make_event_id(self.provider_id, symbol, _KLINE_SUMMARY, key),
            provider=self.provider_id,
            symbol=symbol,
            venue_symbol=msg.s,
            ts_exchange=msg.E * _MS_NS,
            ts_ingest=ts_ingest,
            interval=k.i,
            open_time=k.t * _MS_NS,
            close_time=k.T * _MS_NS,
            open=self.price(k.o),
            high=self.price(k.h),
            low=self.price(k.l),
            close=self.price(k.c),
            volume=strict_decimal(k.v),
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
        symbol = self.canonical(msg.s)
        last_qty = strict_decimal(msg.l)
        is_fill = msg.x == "TRADE" and last_qty > _ZERO
        cum = strict_decimal(msg.z)
        order_qty = strict_decimal(msg.q)
        cum_quote = strict_decimal(msg.Z, scale=_WIDE)
        price = _price_or_none(msg.p)
        # A fill reported with L = 0 (seen in the venue's own examples) keeps its quantity;
        # its price is unknown rather than zero.
        last_price = _price_or_none(msg.L) if is_fill else None
        fee = _opt_decimal(msg.n) if is_fill else _ZERO
        leaves = _ZERO if state.is_final else max(order_qty - cum, _ZERO)
        reason = msg.eR or ("" if msg.r == "NONE" else msg.r)
        exec_id = msg.I if msg.I is not None else f"{msg.E}:{msg.x}:{msg.z}"
        return ExecReport(
            event_id=make_event_id(self.provider_id, symbol, _EXEC_REPORT, f"{msg.i}:{exec_id}"),
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
            price=price,
            last_qty=last_qty if is_fill else _ZERO,
            last_price=last_price,
            cum_qty=cum,
            leaves_qty=leaves,
            avg_price=(cum_quote / cum) if cum > _ZERO and cum_quote > _ZERO else None,
            fee=fee,
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
        symbol = self.canonical(msg.symbol)
        cum = strict_decimal(msg.executedQty)
        order_qty = strict_decimal(msg.origQty)
        cum_quote = strict_decimal(msg.cummulativeQuoteQty, scale=_WIDE)
        price = _price_or_none(msg.price)
        fee = _ZERO
        fees = [strict_decimal(f.commission, scale=_WIDE) for f in msg.fills]
        fee_assets = {f.commissionAsset for f in msg.fills}
        if len(fee_assets) == 1:
            fee = sum(fees, _ZERO)
        ts = msg.transactTime or msg.updateTime or msg.time
        client_id = msg.origClientOrderId or msg.clientOrderId
        return ExecReport(
            event_id=make_event_id(
                self.provider_id,
                symbol,
                _EXEC_REPORT,
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
            price=price,
            cum_qty=cum,
            leaves_qty=_ZERO if state.is_final else max(order_qty - cum, _ZERO),
            avg_price=(cum_quote / cum) if cum > _ZERO and cum_quote > _ZERO else None,
            fee=fee,
            fee_asset=fee_assets.pop() if len(fee_assets) == 1 else None,
            reason=msg.expiryReason or "",
            venue_status=msg.status,
        )
