"""REST endpoints as data, the JWT signer and the error mapper (protocol notes section 3).

Built on :mod:`tradegw_core.net.http`: one ``httpx.AsyncClient`` per adapter lifetime
(:func:`make_http`), every signed request gets a fresh JWT whose ``uri`` claim is the
request line without scheme or query (``POST api.coinbase.com/api/v3/brokerage/orders``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import msgspec

from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.errors import VENUE, map_http_error
from tradegw_coinbase.jwt import PrivateKey, build_jwt, format_uri, load_private_key
from tradegw_coinbase.schemas import CoinbaseProductsMsg
from tradegw_coinbase.symbols import instruments_from_products
from tradegw_core.clock import Clock, SystemClock
from tradegw_core.errors import OrderValidationError, VenueError
from tradegw_core.net.http import Endpoint, VenueHttp, make_async_client
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket
from tradegw_core.schema.orders import OrderRequest, OrderType, TimeInForce
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = [
    "BATCH_CANCEL",
    "CREATE_ORDER",
    "GET_ORDER",
    "LIST_ORDERS",
    "PREFIX",
    "PRODUCTS",
    "PRODUCT_BOOK",
    "JwtSigner",
    "coinbase_error_mapper",
    "load_instruments",
    "make_http",
    "order_body",
]

PREFIX = "/api/v3/brokerage"
PRODUCTS = Endpoint("GET", f"{PREFIX}/market/products")
PRODUCT_BOOK = Endpoint("GET", f"{PREFIX}/market/product_book")
CREATE_ORDER = Endpoint("POST", f"{PREFIX}/orders", signed=True, mutating=True)
BATCH_CANCEL = Endpoint("POST", f"{PREFIX}/orders/batch_cancel", signed=True)
GET_ORDER = Endpoint("GET", PREFIX + "/orders/historical/{order_id}", signed=True)
LIST_ORDERS = Endpoint("GET", f"{PREFIX}/orders/historical/batch", signed=True)


class JwtSigner:
    """Adds ``Authorization: Bearer <fresh JWT>`` to a request (``net.http.Signer``)."""

    def __init__(
        self, key_name: str, private_key: PrivateKey, *, clock: Clock | None = None, ttl: int = 120
    ) -> None:
        self.key_name = key_name
        self.private_key = private_key
        self.clock: Clock = clock or SystemClock()
        self.ttl = ttl

    def now_s(self) -> int:
        """UNIX seconds from the clock (JWT ``nbf``)."""
        return self.clock.time_ns() // 1_000_000_000

    def token(self, uri: str | None = None) -> str:
        """A fresh JWT (``uri`` None for WebSocket messages)."""
        return build_jwt(self.key_name, self.private_key, now=self.now_s(), uri=uri, ttl=self.ttl)

    def __call__(self, endpoint: Endpoint, request: httpx.Request) -> httpx.Request:
        """Sign one request."""
        host = request.url.netloc.decode("ascii")
        uri = format_uri(request.method, host, request.url.path)
        request.headers["Authorization"] = f"Bearer {self.token(uri)}"
        return request

    @classmethod
    def from_settings(cls, settings: CoinbaseSettings, clock: Clock | None) -> JwtSigner | None:
        """The signer for configured credentials, or None when there are none."""
        if not settings.has_credentials or settings.api_private_key is None:
            return None
        key = load_private_key(settings.api_private_key.get_secret_value())
        return cls(settings.api_key_name, key, clock=clock, ttl=settings.jwt_ttl_s)


def coinbase_error_mapper(response: httpx.Response, body: Any) -> VenueError | None:
    """Venue errors for 4xx answers; 429 and 5xx are left to the core's defaults."""
    status = response.status_code
    if status < 400 or status >= 500 or status == 429:
        return None
    return map_http_error(status, response.content)


def make_http(
    settings: CoinbaseSettings,
    *,
    signer: JwtSigner | None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> tuple[httpx.AsyncClient, VenueHttp]:
    """The adapter's client (enter it as a context manager) and its request sender."""
    timeout = httpx.Timeout(
        settings.request_timeout_s, connect=min(5.0, settings.request_timeout_s)
    )
    client = make_async_client(settings.rest_url, timeout=timeout, transport=transport)
    limiter = AsyncRateLimiter(
        TokenBucket(settings.rest_requests_per_second, 1.0), clock=clock or SystemClock()
    )
    http = VenueHttp(
        client,
        venue=VENUE,
        limiter=limiter,
        error_mapper=coinbase_error_mapper,
        signer=signer,
    )
    return client, http


async def load_instruments(
    http: VenueHttp, settings: CoinbaseSettings, provider: str = VENUE
) -> dict[Symbol, Instrument]:
    """Spot instruments from ``GET /market/products`` (restricted to ``settings.symbols``)."""
    data = await http.request(PRODUCTS)
    products = msgspec.convert(data, CoinbaseProductsMsg, strict=False)
    return instruments_from_products(products.products, provider=provider, only=settings.symbols)


def _plain(value: Decimal) -> str:
    return format(value, "f")


def order_body(order: OrderRequest, product_id: str) -> dict[str, Any]:
    """The ``POST /orders`` body of a canonical order (notes section 4.2)."""
    size = _plain(order.qty)
    if order.type is OrderType.MARKET:
        if order.time_in_force is TimeInForce.FOK:
            raise OrderValidationError("Coinbase spot market orders are IOC only, not FOK")
        config: dict[str, Any] = {"market_market_ioc": {"base_size": size}}
    else:
        assert order.price is not None  # OrderRequest guarantees it for LIMIT
        price = _plain(order.price)
        if order.time_in_force is TimeInForce.GTC:
            config = {
                "limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": False}
            }
        elif order.time_in_force is TimeInForce.IOC:
            config = {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
        else:
            config = {"limit_limit_fok": {"base_size": size, "limit_price": price}}
    return {
        "client_order_id": order.client_order_id,
        "product_id": product_id,
        "side": "BUY" if order.side.value == "buy" else "SELL",
        "order_configuration": config,
    }
