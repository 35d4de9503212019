"""Kraken REST endpoints as data, the API-Sign signer and the error mapper.

Private calls are ``POST /0/private/<Method>`` with an urlencoded body that starts with
``nonce``; the signer moves the request's parameters into that body, then adds
``API-Key`` and ``API-Sign``. Kraken reports API errors with HTTP 200 and an ``error``
list: the mapper turns those into the tradegw error tree (an ``AddOrder`` internal error
is an unknown outcome).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from tradegw_core.errors import VenueError
from tradegw_core.net.http import Endpoint
from tradegw_kraken.errors import map_errors
from tradegw_kraken.signing import NonceSource, api_sign, decode_secret

__all__ = [
    "ADD_ORDER",
    "ASSET_PAIRS",
    "CANCEL_ORDER",
    "CLOSED_ORDERS",
    "OPEN_ORDERS",
    "QUERY_ORDERS",
    "WS_TOKEN",
    "KrakenSigner",
    "rest_error_mapper",
]

ASSET_PAIRS = Endpoint("GET", "/0/public/AssetPairs")
ADD_ORDER = Endpoint("POST", "/0/private/AddOrder", signed=True, mutating=True)
CANCEL_ORDER = Endpoint("POST", "/0/private/CancelOrder", signed=True)
QUERY_ORDERS = Endpoint("POST", "/0/private/QueryOrders", signed=True)
OPEN_ORDERS = Endpoint("POST", "/0/private/OpenOrders", signed=True)
CLOSED_ORDERS = Endpoint("POST", "/0/private/ClosedOrders", signed=True)
WS_TOKEN = Endpoint("POST", "/0/private/GetWebSocketsToken", signed=True)


class KrakenSigner:
    """Turns a built request into Kraken's signed form POST (``VenueHttp`` signer)."""

    def __init__(self, api_key: str, api_secret: str, nonces: NonceSource) -> None:
        self._key = api_key
        self._secret = decode_secret(api_secret)
        self._nonces = nonces

    def __call__(self, endpoint: Endpoint, request: httpx.Request) -> httpx.Request:
        """Body ``nonce=...&<params>``, headers ``API-Key`` / ``API-Sign``."""
        nonce = self._nonces.next()
        fields = [("nonce", str(nonce)), *request.url.params.multi_items()]
        body = urlencode(fields).encode()
        url = request.url.copy_with(query=None)
        headers = {
            "API-Key": self._key,
            "API-Sign": api_sign(url.path, nonce, body, self._secret),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "tradegw-kraken/0.1",
        }
        return httpx.Request(request.method, url, content=body, headers=headers)


def rest_error_mapper(response: httpx.Response, body: Any) -> VenueError | None:
    """Kraken's ``{"error": [...]}`` (HTTP 200) as a tradegw error, else None."""
    if not isinstance(body, dict):
        return None
    errors = body.get("error") or []
    if not errors:
        return None
    path = response.request.url.path
    return map_errors(
        [str(e) for e in errors],
        submission=path.endswith("/AddOrder"),
        context=path.rsplit("/", 1)[-1],
    )
