"""Every canonical schema type survives a JSON round trip exactly; bad input fails clearly."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from pydantic import ValidationError

from tradegw_core.errors import SchemaError
from tradegw_core.schema import (
    SCHEMA_VERSION,
    Ack,
    BookSnapshot,
    BookUpdate,
    CancelRequest,
    CancelResult,
    EventType,
    ExecReport,
    ExecState,
    Instrument,
    KlineSummary,
    Level,
    MergedEvent,
    MergedSubscribe,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    SetTradingMode,
    Side,
    StreamKey,
    Subscribe,
    Symbol,
    Ticker,
    Trade,
    Unsubscribe,
    canonical_symbol,
    decode_event,
    encode_event,
    make_event_id,
    parse_control,
    split_symbol,
)

D = Decimal


def header(type_: EventType, seq: int = 1) -> dict[str, object]:
    return {
        "event_id": make_event_id("binance", "BTC-USDT", type_, seq),
        "provider": "binance",
        "symbol": "BTC-USDT",
        "venue_symbol": "BTCUSDT",
        "seq_provider": seq,
        "ts_exchange": 1_700_000_000_123_000_000,
        "ts_ingest": 42,
        "trace_id": "t1",
    }


def all_events() -> list[object]:
    trade = Trade(
        **header(EventType.TRADE),  # type: ignore[arg-type]
        trade_id="12345",
        price=D("27123.45000000"),
        qty=D("0.00100000"),
        side=Side.SELL,
    )
    update = BookUpdate(
        **header(EventType.BOOK_UPDATE, 7),  # type: ignore[arg-type]
        bids=(Level(D("0.1"), D("0")),),
        asks=(Level(D("0.30000000000000004"), D("1.5")),),
        first_seq=5,
        last_seq=7,
        prev_seq=4,
        checksum=123,
    )
    return [
        trade,
        update,
        BookSnapshot(
            **header(EventType.BOOK_SNAPSHOT, 4),  # type: ignore[arg-type]
            bids=(Level(D("100.10"), D("2")), Level(D("100.00"), D("1"))),
            asks=(Level(D("100.20"), D("3")),),
            checksum=None,
        ),
        Ticker(
            **header(EventType.TICKER),  # type: ignore[arg-type]
            bid_price=D("1.1"),
            bid_qty=D("2"),
            ask_price=D("1.2"),
            ask_qty=D("3"),
            last_price=None,
            volume_24h=D("123456.789"),
        ),
        KlineSummary(
            **header(EventType.KLINE_SUMMARY),  # type: ignore[arg-type]
            interval="1m",
            open_time=1,
            close_time=60,
            open=D("1"),
            high=D("2"),
            low=D("0.5"),
            close=D("1.5"),
            volume=D("10"),
            closed=True,
        ),
        ExecReport(
            **header(EventType.EXEC_REPORT),  # type: ignore[arg-type]
            client_order_id="c-1",
            venue_order_id="v-9",
            state=ExecState.PARTIAL,
            side=Side.BUY,
            order_qty=D("1"),
            price=D("100"),
            last_qty=D("0.4"),
            last_price=D("100"),
            cum_qty=D("0.4"),
            leaves_qty=D("0.6"),
            avg_price=D("100"),
            fee=D("0.0004"),
            fee_asset="BNB",
            venue_status="PARTIALLY_FILLED",
            consumer_id="mm1",
            decision_id="d-1",
        ),
        MergedEvent(
            **header(EventType.MERGED),  # type: ignore[arg-type]
            merge_id="m1",
            merge_type=EventType.TRADE,
            window_open=1,
            window_close=2,
            fragments={"binance": [trade], "kraken": [update]},
        ),
    ]


@pytest.mark.parametrize("event", all_events(), ids=lambda e: type(e).__name__)
def test_every_event_round_trips_exactly(event: object) -> None:
    data = encode_event(event)  # type: ignore[arg-type]

    back = decode_event(data)

    assert back == event
    assert type(back) is type(event)
    assert b'"type":"' + str(event.TYPE).encode() + b'"' in data  # type: ignore[attr-defined]
    assert back.schema_version == SCHEMA_VERSION


def test_money_is_exact_decimal_text_never_float() -> None:
    trade = all_events()[0]
    data = encode_event(trade)  # type: ignore[arg-type]
    assert b'"price":"27123.45000000"' in data
    back = decode_event(data)
    assert isinstance(back, Trade)
    assert back.price == D("27123.45000000")
    assert str(back.price) == "27123.45000000"


def test_stream_key_and_deterministic_event_id() -> None:
    trade = all_events()[0]
    assert trade.stream_key == StreamKey("binance", "BTC-USDT", EventType.TRADE)  # type: ignore[attr-defined]
    assert make_event_id("kraken", "BTC-USD", EventType.TRADE, 9) == make_event_id(
        "kraken", "BTC-USD", "Trade", 9
    )


def test_decoding_garbage_fails() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type":"Trade","event_id":"x"}')
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type":"Nope"}')


@pytest.mark.parametrize(
    "message",
    [
        Subscribe(
            consumer_id="c", providers=("binance",), symbols=("BTC-USDT",), types=(EventType.TRADE,)
        ),
        Unsubscribe(
            consumer_id="c", providers=("kraken",), symbols=("ETH-USD",), types=(EventType.TICKER,)
        ),
        MergedSubscribe(
            consumer_id="c", symbol="BTC-USDT", type=EventType.TRADE, providers=("a", "b")
        ),
        SetTradingMode(enabled=False),
        SetTradingMode(consumer_id="c", enabled=True),
    ],
    ids=lambda m: f"{type(m).__name__}",
)
def test_every_control_message_round_trips(message: object) -> None:
    data = message.model_dump_json()  # type: ignore[attr-defined]
    assert parse_control(data) == message


def test_control_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="providers"):
        parse_control(
            '{"kind":"subscribe","consumer_id":"c","providers":[],"symbols":["X-Y"],"types":["Trade"]}'
        )
    with pytest.raises(ValidationError, match="types"):
        parse_control(
            '{"kind":"subscribe","consumer_id":"c","providers":["a"],"symbols":["X-Y"],"types":["Bogus"]}'
        )
    with pytest.raises(ValidationError, match="kind"):
        parse_control('{"kind":"launch"}')
    ack = Ack(request_id="r", ok=False, error="unknown provider 'x'")
    assert Ack.model_validate_json(ack.model_dump_json()) == ack


def test_order_request_round_trips_and_computes_notional() -> None:
    order = OrderRequest(
        client_order_id="c-1",
        consumer_id="mm1",
        provider="binance",
        symbol="BTC-USDT",
        side=Side.BUY,
        qty=D("0.5"),
        price=D("30000.10"),
    )
    back = OrderRequest.model_validate_json(order.model_dump_json())
    assert back == order
    assert back.notional == D("15000.050")
    market = order.model_copy(update={"type": OrderType.MARKET, "price": None})
    assert market.notional is None
    cancel = CancelRequest(
        client_order_id="c-1", consumer_id="mm1", provider="binance", symbol="BTC-USDT"
    )
    assert CancelRequest.model_validate_json(cancel.model_dump_json()) == cancel


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"qty": "0"}, "qty"),
        ({"price": "-1"}, "price"),
        ({"price": None}, "a LIMIT order needs a price"),
        ({"type": "MARKET"}, "a MARKET order takes no price"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"side": "long"}, "side"),
        ({"leverage": 3}, "leverage"),
    ],
)
def test_order_request_validation_errors_name_the_problem(
    changes: dict[str, object], field: str
) -> None:
    data: dict[str, object] = {
        "client_order_id": "c-1",
        "consumer_id": "mm1",
        "provider": "binance",
        "symbol": "BTC-USDT",
        "side": "buy",
        "qty": "1",
        "price": "10",
    }
    data.update(changes)
    with pytest.raises(ValidationError, match=field):
        OrderRequest.model_validate(data)


def test_order_and_cancel_results_round_trip() -> None:
    report = all_events()[5]
    first = OrderResult(
        client_order_id="c", status=OrderStatus.ACCEPTED, venue_order_id="v", report=report
    )  # type: ignore[arg-type]
    dup = OrderResult(client_order_id="c", status=OrderStatus.DUPLICATE, first=first)
    enc = msgspec.json.Encoder(decimal_format="string")
    assert msgspec.json.decode(enc.encode(dup), type=OrderResult) == dup
    assert dup.ok
    assert first.ok
    assert not OrderResult(client_order_id="c", status=OrderStatus.REJECTED).ok
    cancel = CancelResult(client_order_id="c", ok=True, state=ExecState.CANCELLED)
    assert msgspec.json.decode(enc.encode(cancel), type=CancelResult) == cancel
    assert ExecState.FILLED.is_final
    assert not ExecState.PARTIAL.is_final


def test_symbols_and_instruments() -> None:
    assert canonical_symbol(" btc", "usdt ") == "BTC-USDT"
    assert split_symbol("BTC-USDT") == ("BTC", "USDT")
    for bad in ("BTCUSDT", "btc-usdt", "A-B-C", "-USD"):
        with pytest.raises(SchemaError):
            split_symbol(bad)
    with pytest.raises(SchemaError):
        canonical_symbol("BTC-X", "USD")
    inst = Instrument(
        provider="kraken",
        symbol=Symbol("BTC-USD"),
        venue_symbol="XBT/USD",
        base="BTC",
        quote="USD",
        price_step=D("0.1"),
        qty_step=D("0.00000001"),
    )
    assert inst.price_on_step(D("100.3"))
    assert not inst.price_on_step(D("100.35"))
    assert inst.qty_on_step(D("0.5"))
    assert not inst.qty_on_step(D("0.000000001"))
    assert msgspec.json.decode(msgspec.json.encode(inst), type=Instrument) == inst
