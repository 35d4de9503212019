"""Contract: the Coinbase emulator answers requests shaped like the venue's documented examples.

Requests are raw ``httpx`` / WebSocket; JWTs are built here with ``cryptography`` in the
two documented forms (coinbase-advanced-py: ``uri``; the CDP SDK: ``uris`` list and
``aud``), for an EC key named ``organizations/{org}/apiKeys/{id}`` and for an Ed25519 key
given as base64 of seed||public under a bare key id, never with our own client. Expected
shapes come from the Advanced Trade reference and ``shared/data/nautilus/coinbase``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from tradegw_coinbase.emulator import CoinbaseEmulator
from websockets.asyncio.client import ClientConnection, connect

from tradegw_core.sim.emulator import ApiCredentials, EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

P = "/api/v3/brokerage"
ED_KEY = ed25519.Ed25519PrivateKey.generate()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_ID = "2f6e1e2a-4b4c-4c4e-9e0d-6a6c1b0e2d11"  # a bare CDP key id (Ed25519 keys)
ED_SECRET = base64.b64encode(
    ED_KEY.private_bytes_raw() + ED_KEY.public_key().public_bytes_raw()
).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key_id: str, secret: str, uri: str | None, *, sdk: bool = False) -> str:
    """A CDP JWT as coinbase-advanced-py (``uri``) or the CDP SDK (``uris``, ``aud``) build it."""
    ec_key = secret.startswith("-----BEGIN")
    header = {
        "alg": "ES256" if ec_key else "EdDSA",
        "kid": key_id,
        "typ": "JWT",
        "nonce": secrets.token_hex(16),
    }
    now = int(time.time())
    claims: dict[str, Any] = {"sub": key_id, "iss": "cdp", "nbf": now, "exp": now + 120}
    if sdk:
        claims["aud"] = None
        if uri is not None:
            claims["uris"] = [uri]
    elif uri is not None:
        claims["uri"] = uri
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if ec_key:
        key = serialization.load_pem_private_key(secret.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = ED_KEY.sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


@asynccontextmanager
async def venue(
    state_dir: Path | None = None,
) -> AsyncIterator[tuple[CoinbaseEmulator, httpx.AsyncClient]]:
    sim = MarketSimulator([default_symbol_spec("BTC-USD")], seed=4, rate=50)
    pem = EC_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    creds = (
        ApiCredentials("organizations/org-1/apiKeys/key-1", pem),
        ApiCredentials(ED_ID, ED_SECRET, account="main"),
    )
    cfg = EmulatorConfig(
        venue="coinbase",
        symbols=("BTC-USD",),
        simulator=sim,
        credentials=creds,
        state_dir=state_dir,
    )
    async with CoinbaseEmulator(cfg) as emu, httpx.AsyncClient(base_url=emu.rest_url) as http:
        sim.events(400)
        yield emu, http


async def call(
    emu: CoinbaseEmulator,
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    key: int = 0,
    sdk: bool = False,
    **kw: Any,
) -> httpx.Response:
    cred = emu.credentials[key]
    host = emu.rest_url.split("://", 1)[1]
    token = make_jwt(cred.api_key, cred.api_secret, f"{method} {host}{P}{path}", sdk=sdk)
    return await http.request(method, P + path, headers={"Authorization": f"Bearer {token}"}, **kw)


@pytest.mark.anyio
async def test_public_and_authenticated_market_data() -> None:
    async with venue() as (emu, http):
        products = (await http.get(f"{P}/market/products")).json()
        assert [p["product_id"] for p in products["products"]] == ["BTC-USD"]
        for limit in (1, 10, 50, 500):
            book = (
                await http.get(
                    f"{P}/market/product_book", params={"product_id": "BTC-USD", "limit": limit}
                )
            ).json()
            assert len(book["pricebook"]["bids"]) == len(book["pricebook"]["asks"]) == limit
            assert {"last", "mid_market", "spread_bps", "spread_absolute"} <= set(book)
        ticker = (await http.get(f"{P}/market/products/BTC-USD/ticker?limit=5")).json()
        assert len(ticker["trades"]) == 5
        assert set(ticker["trades"][0]) == {
            "trade_id",
            "product_id",
            "price",
            "size",
            "time",
            "side",
            "bid",
            "ask",
            "exchange",
        }
        ids = [int(t["trade_id"]) for t in ticker["trades"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        assert Decimal(ticker["best_bid"]) < Decimal(ticker["best_ask"])
        candles = await http.get(f"{P}/market/products/BTC-USD/candles?granularity=ONE_MINUTE")
        rows = candles.json()["candles"]
        assert rows
        assert set(rows[0]) == {"start", "low", "high", "open", "close", "volume"}
        bad = await http.get(f"{P}/market/products/BTC-USD/candles?granularity=TWO_DAYS")
        assert (bad.status_code, bad.json()["error"]) == (400, "INVALID_ARGUMENT")
        twin = await call(emu, http, "GET", "/products/BTC-USD/ticker", params={"limit": 5})
        assert twin.json()["trades"] == ticker["trades"]
        bba = await call(emu, http, "GET", "/best_bid_ask", params={"product_ids": "BTC-USD"})
        (pricebook,) = bba.json()["pricebooks"]
        assert pricebook["bids"][0]["price"] == ticker["best_bid"]
        authed = await call(
            emu,
            http,
            "GET",
            "/product_book",
            key=1,
            sdk=True,
            params={"product_id": "BTC-USD", "limit": 2},
        )
        assert len(authed.json()["pricebook"]["bids"]) == 2
        unsigned = await http.get(f"{P}/products")
        assert (unsigned.status_code, unsigned.text) == (401, "Unauthorized")
        cred = emu.credentials[0]
        wrong_uri = make_jwt(cred.api_key, cred.api_secret, "GET api.coinbase.com/elsewhere")
        refused = await http.get(f"{P}/accounts", headers={"Authorization": f"Bearer {wrong_uri}"})
        assert refused.status_code == 401


async def _frames(ws: ClientConnection, until: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        while not until(got):
            got.append(json.loads(await ws.recv()))
    return got


@pytest.mark.anyio
async def test_market_trades_snapshot_has_recent_trades_on_a_shared_socket() -> None:
    async with venue() as (emu, _), connect(emu.ws_url) as ws:
        for channel in ("market_trades", "level2"):
            await ws.send(
                json.dumps({"type": "subscribe", "channel": channel, "product_ids": ["BTC-USD"]})
            )
        frames = await _frames(ws, lambda got: any(f["channel"] == "l2_data" for f in got))
        (trades,) = [f for f in frames if f["channel"] == "market_trades"]
        snapshot = trades["events"][0]
        assert snapshot["type"] == "snapshot"
        assert len(snapshot["trades"]) == 50
        seqs = [f["sequence_num"] for f in frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.anyio
async def test_accounts_orders_fills_and_the_user_channel_in_order() -> None:
    async with venue() as (emu, http), connect(emu.ws_url) as ws:
        cred = emu.credentials[1]  # the Ed25519 key, bare key id, CDP SDK JWT form
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "channel": "user",
                    "jwt": make_jwt(cred.api_key, cred.api_secret, None, sdk=True),
                }
            )
        )
        await _frames(ws, lambda got: any(f["channel"] == "user" for f in got))
        await ws.send(json.dumps({"type": "subscribe", "channel": "user", "jwt": "x.y.z"}))
        error = await _frames(ws, lambda got: any(f.get("type") == "error" for f in got))
        assert error[-1] == {"type": "error", "message": "authentication failure"}
        accounts = (await call(emu, http, "GET", "/accounts")).json()
        usd = {a["currency"]: a for a in accounts["accounts"]}["USD"]
        assert set(usd["available_balance"]) == {"value", "currency"}
        assert usd["type"] == "FIAT"
        bid = emu.sim.book("coinbase", "BTC-USD", depth=1).bids[0][0]
        ids = []
        for coid in ("cb-rest-1", "cb-rest-2"):
            body = {
                "client_order_id": coid,
                "product_id": "BTC-USD",
                "side": "BUY",
                "order_configuration": {
                    "limit_limit_gtc": {
                        "base_size": "0.0010",
                        "limit_price": str(bid - 100),
                        "post_only": False,
                    }
                },
            }
            created = (await call(emu, http, "POST", "/orders", json=body)).json()
            assert created["success"] is True
            assert created["success_response"]["client_order_id"] == coid
            ids.append(created["success_response"]["order_id"])
        again = (await call(emu, http, "POST", "/orders", json=body)).json()
        assert again["success_response"]["order_id"] == ids[1]  # same id: the stored answer
        one = (await call(emu, http, "GET", f"/orders/historical/{ids[0]}")).json()["order"]
        assert (one["client_order_id"], one["status"]) == ("cb-rest-1", "OPEN")
        listed = await call(
            emu, http, "GET", "/orders/historical/batch", params={"order_status": "OPEN"}
        )
        assert {o["order_id"] for o in listed.json()["orders"]} == set(ids)
        cancelled = (
            await call(emu, http, "POST", "/orders/batch_cancel", json={"order_ids": ids})
        ).json()
        assert [r["success"] for r in cancelled["results"]] == [True, True]
        buy = {
            "client_order_id": "cb-mkt-1",
            "product_id": "BTC-USD",
            "side": "BUY",
            "order_configuration": {"market_market_ioc": {"quote_size": "100"}},
        }
        market = (await call(emu, http, "POST", "/orders", json=buy)).json()
        assert market["success"] is True, market
        mkt_id = market["success_response"]["order_id"]
        fills = (
            await call(emu, http, "GET", "/orders/historical/fills", params={"order_ids": mkt_id})
        ).json()["fills"]
        assert fills
        assert {f["order_id"] for f in fills} == {mkt_id}
        assert {f["liquidity_indicator"] for f in fills} == {"TAKER"}
        assert sum(Decimal(f["price"]) * Decimal(f["size"]) for f in fills) <= 100
        summary = (await call(emu, http, "GET", "/transaction_summary")).json()
        assert summary["total_volume"] > 0
        assert set(summary["fee_tier"]) >= {"taker_fee_rate", "maker_fee_rate"}
        frames = await _frames(
            ws,
            lambda got: any(
                o["client_order_id"] == "cb-mkt-1" and o["status"] == "FILLED"
                for f in got
                if f["channel"] == "user"
                for e in f["events"]
                for o in e["orders"]
            ),
        )
        flow = [
            (o["client_order_id"], o["status"])
            for f in frames
            if f["channel"] == "user"
            for e in f["events"]
            for o in e["orders"]
        ]
        assert flow[:4] == [
            ("cb-rest-1", "OPEN"),
            ("cb-rest-2", "OPEN"),
            ("cb-rest-1", "CANCELLED"),
            ("cb-rest-2", "CANCELLED"),
        ]
        assert flow[4] == ("cb-mkt-1", "OPEN")
        assert flow[-1] == ("cb-mkt-1", "FILLED")


@pytest.mark.anyio
async def test_orders_stay_answerable_after_an_emulator_restart_with_a_state_dir(
    tmp_path: Path,
) -> None:
    async with venue(tmp_path) as (emu, http):
        bid = emu.sim.book("coinbase", "BTC-USD", depth=1).bids[0][0]
        body = {
            "client_order_id": "cb-keep-1",
            "product_id": "BTC-USD",
            "side": "BUY",
            "order_configuration": {
                "limit_limit_gtc": {"base_size": "0.0010", "limit_price": str(bid - 100)}
            },
        }
        first = (await call(emu, http, "POST", "/orders", json=body)).json()
    async with venue(tmp_path) as (emu, http):
        oid = first["success_response"]["order_id"]
        order = (await call(emu, http, "GET", f"/orders/historical/{oid}")).json()["order"]
        assert (order["client_order_id"], order["status"]) == ("cb-keep-1", "OPEN")
        again = (await call(emu, http, "POST", "/orders", json=body)).json()
        assert again == first  # the stored answer; no second order
        assert len(emu.engines["BTC-USD"].open_orders("main")) == 1
