"""The order adapter against the Coinbase emulator on loopback: JWT-signed orders,
ACK -> PARTIAL -> FILLED on the user channel, duplicates never sent twice, unknown outcomes
resolved by query, and the venue's rejection of bad or expired JWTs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tradegw_coinbase.http import order_body
from tradegw_coinbase.jwt import build_jwt, load_private_key
from tradegw_coinbase.orders import CoinbaseOrderAdapter
from websockets.asyncio.client import connect

from tradegw_core.clock import FakeClock, SystemClock
from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    OrderValidationError,
    VenueRejectedError,
)
from tradegw_core.schema.events import ExecReport, ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderType, TimeInForce
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.faults import AcceptThenTimeout

pytestmark = pytest.mark.anyio
BTC = Symbol("BTC-USD")


def _order(coid: str, qty: Decimal, price: Decimal | None, **kw: Any) -> OrderRequest:
    return OrderRequest(
        client_order_id=coid,
        consumer_id="strat-1",
        provider="coinbase",
        symbol="BTC-USD",
        side=kw.pop("side", Side.BUY),
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        qty=qty,
        price=price,
        decision_id="d-1",
        **kw,
    )


def _states(reports: list[ExecReport]) -> list[ExecState]:
    return [r.state for r in reports]


async def test_ack_partial_filled_reach_the_consumer_in_order(
    coinbase_venue: Any, sink: Any
) -> None:
    async with coinbase_venue() as venue:
        adapter = CoinbaseOrderAdapter(venue.settings)
        async with anyio.create_task_group() as tg:
            await tg.start(adapter.run, sink)
            assert "BTC-USD" in adapter.instruments()
            ask_price, ask_qty = venue.sim.book("coinbase", "BTC-USD", depth=1).asks[0]
            rest = Decimal("0.01")
            ack = await adapter.submit(_order("cb-1", ask_qty + rest, ask_price))
            assert ack.client_order_id == "cb-1"
            assert ack.venue_order_id
            await sink.wait_for(lambda r: ExecState.PARTIAL in _states(r))
            # Another account's sell fills the resting remainder at our price.
            venue.emu.ledger.deposit("other", "BTC", Decimal(1))
            venue.emu.engines["BTC-USD"].place("other", "x-1", Side.SELL, rest, ask_price)
            await sink.wait_for(lambda r: ExecState.FILLED in _states(r))
            reports: list[ExecReport] = sink.items
            assert _states(reports) == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
            assert {r.venue_order_id for r in reports} == {ack.venue_order_id}
            assert [r.last_qty for r in reports] == [0, ask_qty, rest]
            assert reports[-1].cum_qty == ask_qty + rest
            assert reports[-1].leaves_qty == 0
            assert reports[1].last_price == ask_price
            assert reports[-1].avg_price == ask_price
            assert all(r.consumer_id == "strat-1" and r.decision_id == "d-1" for r in reports)
            assert [r.seq_provider for r in reports] == sorted(r.seq_provider for r in reports)
            report = await adapter.query(BTC, "cb-1")
            assert report is not None
            assert report.state is ExecState.FILLED
            # The venue refuses to cancel a filled order, with its own reason.
            cancel = CancelRequest(
                client_order_id="cb-1", consumer_id="strat-1", provider="coinbase", symbol="BTC-USD"
            )
            with pytest.raises(VenueRejectedError) as refused:
                await adapter.cancel(cancel)
            assert refused.value.code == "UNKNOWN_CANCEL_ORDER"
            tg.cancel_scope.cancel()


async def test_duplicate_client_order_id_is_never_sent_twice(coinbase_venue: Any) -> None:
    async with coinbase_venue() as venue:
        bid = venue.sim.book("coinbase", "BTC-USD", depth=1).bids[0][0]
        order = _order("dup-1", Decimal("0.001"), bid - Decimal(100))
        async with CoinbaseOrderAdapter(venue.settings) as adapter:
            await adapter.load()
            first = await adapter.submit(order)
            again = await adapter.submit(order)
            assert again == first
            assert adapter.requests_sent == 1
            assert venue.emu.desk.creates == 1
        # A fresh adapter (e.g. after a restart) re-posts: the venue returns the same order.
        async with CoinbaseOrderAdapter(venue.settings) as other:
            await other.load()
            replay = await other.submit(order)
            assert replay.venue_order_id == first.venue_order_id
            assert venue.emu.desk.creates == 2
            assert len(venue.emu.desk.by_id) == 1  # still one order on the venue
            await other.cancel(
                CancelRequest(
                    client_order_id="dup-1", consumer_id="s", provider="coinbase", symbol="BTC-USD"
                )
            )
            report = await other.query(BTC, "dup-1")
            assert report is not None
            assert report.state is ExecState.CANCELLED


async def test_unknown_outcome_is_resolved_by_query_not_resent(coinbase_venue: Any) -> None:
    async with coinbase_venue(request_timeout_s=0.5) as venue:
        venue.emu.faults.http(
            AcceptThenTimeout(),
            match=lambda req: req.method == "POST" and req.path.endswith("/orders"),
        )
        bid = venue.sim.book("coinbase", "BTC-USD", depth=1).bids[0][0]
        order = _order("lost-1", Decimal("0.001"), bid - Decimal(50))
        async with CoinbaseOrderAdapter(venue.settings) as adapter:
            await adapter.load()
            with pytest.raises(OrderOutcomeUnknownError):
                await adapter.submit(order)
            with pytest.raises(OrderOutcomeUnknownError):
                await adapter.submit(order)  # still unknown: nothing is sent
            assert venue.emu.desk.creates == 1
            report = await adapter.query(BTC, "lost-1")  # found by searching recent orders
            assert report is not None
            assert report.state is ExecState.ACK
            assert report.client_order_id == "lost-1"
            assert await adapter.query(BTC, "never-sent") is None


async def test_business_rejection_is_mapped(coinbase_venue: Any) -> None:
    async with coinbase_venue() as venue, CoinbaseOrderAdapter(venue.settings) as adapter:
        await adapter.load()
        with pytest.raises(VenueRejectedError) as info:
            await adapter.submit(_order("big-1", Decimal(1000), Decimal("60000.00")))
        assert info.value.code == "INSUFFICIENT_FUND"
        with pytest.raises(VenueRejectedError) as again:
            await adapter.submit(_order("big-1", Decimal(1000), Decimal("60000.00")))
        assert again.value is info.value  # the first answer, not a second request
        with pytest.raises(VenueRejectedError, match="no Coinbase order") as unknown:
            await adapter.cancel(
                CancelRequest(
                    client_order_id="nope", consumer_id="s", provider="coinbase", symbol="BTC-USD"
                )
            )
        assert unknown.value.code == "UNKNOWN_CANCEL_ORDER"


async def test_emulator_rejects_bad_and_expired_jwts_with_the_venue_error(
    coinbase_venue: Any,
) -> None:
    async with coinbase_venue() as venue:
        order = _order("auth-1", Decimal("0.001"), Decimal("50000.00"))
        wrong = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        values = {**venue.settings.model_dump(), "api_private_key": wrong.decode()}
        bad = type(venue.settings).model_validate(values)
        async with CoinbaseOrderAdapter(bad) as adapter:
            with pytest.raises(AuthenticationError, match="401 Unauthorized"):
                await adapter.submit(order)
        stale_clock = FakeClock(SystemClock().time_ns() - 300 * 10**9)
        async with CoinbaseOrderAdapter(venue.settings, clock=stale_clock) as adapter:
            with pytest.raises(AuthenticationError, match="401"):
                await adapter.submit(order)
        assert venue.emu.auth_failures == 2
        assert venue.emu.desk.creates == 0

        cred = venue.emu.credentials[0]
        key = load_private_key(cred.api_secret)
        async with connect(venue.emu.ws_url) as ws:
            expired = build_jwt(cred.api_key, key, now=SystemClock().time_ns() // 10**9 - 300)
            await ws.send(json.dumps({"type": "subscribe", "channel": "user", "jwt": expired}))
            with anyio.fail_after(5):
                answer = json.loads(await ws.recv())
            assert answer == {"type": "error", "message": "authentication failure"}
            await ws.send(json.dumps({"type": "subscribe", "channel": "nope"}))
            with anyio.fail_after(5):
                assert json.loads(await ws.recv())["message"] == "authentication failure"


def test_order_bodies_follow_the_notes() -> None:
    limit = order_body(_order("a", Decimal("0.0010"), Decimal("60000.00")), "BTC-USD")
    assert limit == {
        "client_order_id": "a",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtc": {
                "base_size": "0.0010",
                "limit_price": "60000.00",
                "post_only": False,
            }
        },
    }
    ioc = order_body(
        _order("b", Decimal("1E-5"), Decimal(1), time_in_force=TimeInForce.IOC), "BTC-USD"
    )
    assert ioc["order_configuration"] == {
        "sor_limit_ioc": {"base_size": "0.00001", "limit_price": "1"}
    }
    fok = order_body(_order("c", Decimal(1), Decimal(2), time_in_force=TimeInForce.FOK), "X-Y")
    assert "limit_limit_fok" in fok["order_configuration"]
    market = order_body(_order("d", Decimal("0.5"), None, side=Side.SELL), "BTC-USD")
    assert market["side"] == "SELL"
    assert market["order_configuration"] == {"market_market_ioc": {"base_size": "0.5"}}
    with pytest.raises(OrderValidationError, match="IOC only"):
        order_body(_order("e", Decimal(1), None, time_in_force=TimeInForce.FOK), "BTC-USD")


def test_client_order_id_format() -> None:
    from tradegw_coinbase.config import CoinbaseSettings

    adapter = CoinbaseOrderAdapter(CoinbaseSettings())
    assert adapter.validate_client_order_id("2c9a1f0e-6f4b-4d6e-9c1a-000000000001") is None
    assert adapter.validate_client_order_id("") is not None
    assert adapter.validate_client_order_id("a b") is not None


async def test_fill_missed_during_a_disconnect_is_caught_up(
    coinbase_venue: Any, sink: Any, telemetry: Any
) -> None:
    from tradegw_core.net.backoff import Backoff
    from tradegw_core.sim.faults import Close

    async with coinbase_venue() as venue:
        fast = {"backoff": Backoff(base_s=0.01, cap_s=0.05)}
        adapter = CoinbaseOrderAdapter(venue.settings, ws_options=fast, telemetry=telemetry)
        async with anyio.create_task_group() as tg:
            await tg.start(adapter.run, sink)
            book = venue.sim.book("coinbase", "BTC-USD", depth=1)
            price = book.bids[0][0] + Decimal("0.01")  # our bid is the best one
            assert price < book.asks[0][0]
            await adapter.submit(_order("gap-1", Decimal("0.002"), price))
            await sink.wait_for(lambda r: _states(r) == [ExecState.ACK])
            # The fill's user frame closes the socket instead of arriving.
            venue.emu.faults.ws(Close(), match=lambda conn, frame: b'"channel":"user"' in frame)
            venue.emu.ledger.deposit("other", "BTC", Decimal(1))
            venue.emu.engines["BTC-USD"].place("other", "x-9", Side.SELL, Decimal("0.002"), price)
            await sink.wait_for(lambda r: ExecState.FILLED in _states(r))
            assert telemetry.named("ws.reconnect")
            assert _states(sink.items) == [ExecState.ACK, ExecState.FILLED]
            filled = sink.items[-1]
            assert filled.last_qty == Decimal("0.002")
            assert filled.cum_qty == Decimal("0.002")
            assert filled.consumer_id == "strat-1"
            tg.cancel_scope.cancel()


async def test_ed25519_cdp_key_signs_orders_the_emulator_accepts(coinbase_venue: Any) -> None:
    from tradegw_core.sim.emulator import ApiCredentials

    # test-vectors.md 5.1: the 64-byte base64 Ed25519 key of the official SDK's tests.
    ed_key = (
        "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA=="
    )
    cred = ApiCredentials("organizations/o/apiKeys/ed", ed_key)
    async with coinbase_venue(credentials=(cred,)) as venue:
        assert venue.settings.api_key_name == "organizations/o/apiKeys/ed"
        bid = venue.sim.book("coinbase", "BTC-USD", depth=1).bids[0][0]
        async with CoinbaseOrderAdapter(venue.settings) as adapter:
            assert adapter.signer is not None
            assert adapter.signer.token().count(".") == 2
            ack = await adapter.submit(_order("ed-1", Decimal("0.001"), bid - Decimal(5)))
        assert ack.venue_order_id
        assert venue.emu.auth_failures == 0
