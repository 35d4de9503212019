"""Binance REST endpoints as data, the request signer and the error mapper for VenueHttp.

Signed requests carry every parameter in the query string: the signer appends
``recvWindow`` and ``timestamp`` to the query exactly as httpx encoded it, signs that text
(plus the body, empty here) and appends ``signature`` last (binance.md section 4.2).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from tradegw_binance.errors import VENUE, error_from_code
from tradegw_binance.signing import Ed25519Signer, HmacSigner, RequestSigner
from tradegw_core.clock import Clock
from tradegw_core.errors import ConfigError, VenueError
from tradegw_core.net.http import Endpoint, VenueHttp, make_async_client
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket

__all__ = [
    "CANCEL_ORDER",
    "DEPTH",
    "EXCHANGE_INFO",
    "NEW_ORDER",
    "OPEN_ORDERS",
    "QUERY_ORDER",
    "SERVER_TIME",
    "BinanceRestSigner",
    "binance_error_mapper",
    "depth_weight",
    "make_signer",
    "make_venue_http",
]

SERVER_TIME = Endpoint("GET", "/api/v3/time", weight=1)
EXCHANGE_INFO = Endpoint("GET", "/api/v3/exchangeInfo", weight=20)
DEPTH = Endpoint("GET", "/api/v3/depth", weight=5)
"""Weight for limit <= 100; use :func:`depth_weight` for larger snapshots."""
NEW_ORDER = Endpoint("POST", "/api/v3/order", signed=True, weight=1, mutating=True)
CANCEL_ORDER = Endpoint("DELETE", "/api/v3/order", signed=True, weight=1, mutating=True)
QUERY_ORDER = Endpoint("GET", "/api/v3/order", signed=True, weight=4)
OPEN_ORDERS = Endpoint("GET", "/api/v3/openOrders", signed=True, weight=6)

REQUEST_WEIGHT_PER_MINUTE = 6000
"""The documented REQUEST_WEIGHT budget (exchangeInfo ``rateLimits``)."""


def depth_weight(limit: int) -> Endpoint:
    """The depth endpoint with the weight of ``limit`` (5 / 25 / 50 / 250)."""
    if limit <= 100:
        return DEPTH
    weight = 25 if limit <= 500 else 50 if limit <= 1000 else 250
    return Endpoint("GET", "/api/v3/depth", weight=weight)


def make_signer(settings: Any) -> RequestSigner | None:
    """The signer for the configured key type, or None when no secret is set."""
    if settings.ed25519_private_key is not None:
        return Ed25519Signer.from_pem(settings.ed25519_private_key.get_secret_value())
    if settings.api_secret is not None:
        return HmacSigner(settings.api_secret.get_secret_value())
    return None


class BinanceRestSigner:
    """The ``VenueHttp`` signer: adds ``recvWindow``, ``timestamp``, ``signature`` and the key.

    ``offset_ms`` (venue time minus local time, from ``/api/v3/time``) keeps timestamps
    inside the venue's window when the local clock drifts.
    """

    def __init__(
        self, api_key: str, signer: RequestSigner, clock: Clock, recv_window_ms: int = 5000
    ) -> None:
        self._api_key = api_key
        self._signer = signer
        self._clock = clock
        self._recv_window = recv_window_ms
        self.offset_ms = 0

    def timestamp_ms(self) -> int:
        """Venue-aligned milliseconds for the next signed request."""
        return self._clock.time_ns() // 1_000_000 + self.offset_ms

    def __call__(self, endpoint: Endpoint, request: httpx.Request) -> httpx.Request:
        """Return ``request`` signed (query + body as sent)."""
        del endpoint
        query = request.url.query.decode()
        extra = urlencode([("recvWindow", self._recv_window), ("timestamp", self.timestamp_ms())])
        query = f"{query}&{extra}" if query else extra
        body = request.content.decode()
        signature = self._signer.sign(query + body)
        query = f"{query}&{urlencode([('signature', signature)])}"
        headers = request.headers.copy()
        headers["X-MBX-APIKEY"] = self._api_key
        return httpx.Request(
            request.method,
            request.url.copy_with(query=query.encode()),
            headers=headers,
            content=request.content,
        )

    def __repr__(self) -> str:
        return "BinanceRestSigner(<credentials>)"


def binance_error_mapper(response: httpx.Response, body: Any) -> VenueError | None:
    """Map a Binance error body (``{"code", "msg"}``) on a 4xx; 5xx keeps the defaults.

    The defaults of ``VenueHttp`` turn a 5xx on an order submission into
    ``OrderOutcomeUnknownError``; -1007 on a 4xx is mapped here as ``unknown_outcome``.
    """
    status = response.status_code
    if status < 400 or status >= 500:
        return None
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        return error_from_code(int(body["code"]), str(body.get("msg", "")), http_status=status)
    return None


def make_venue_http(
    settings: Any,
    clock: Clock,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    signed: bool = False,
) -> tuple[httpx.AsyncClient, VenueHttp, BinanceRestSigner | None]:
    """The adapter's one client (enter it as a context) and its ``VenueHttp``.

    ``signed`` requires credentials (ConfigError naming the missing keys otherwise).
    """
    rest_signer: BinanceRestSigner | None = None
    if signed:
        signer = make_signer(settings)
        if settings.api_key is None or signer is None:
            raise ConfigError(
                "providers.binance: trading needs api_key and either api_secret (HMAC) or "
                "ed25519_private_key"
            )
        rest_signer = BinanceRestSigner(
            settings.api_key.get_secret_value(), signer, clock, settings.recv_window_ms
        )
    timeout = httpx.Timeout(
        settings.request_timeout_s, connect=min(5.0, settings.request_timeout_s)
    )
    client = make_async_client(settings.rest_url, timeout=timeout, transport=transport)
    limiter = AsyncRateLimiter(TokenBucket(REQUEST_WEIGHT_PER_MINUTE, 60.0), clock=clock)
    http = VenueHttp(
        client,
        venue=VENUE,
        limiter=limiter,
        error_mapper=binance_error_mapper,
        signer=rest_signer,
    )
    return client, http, rest_signer
