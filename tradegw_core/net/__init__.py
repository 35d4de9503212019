"""Network layer for venue plugins: WebSocket client, REST plumbing, backoff, rate limits.

* :mod:`~tradegw_core.net.ws` - :class:`WsClient`, a reconnecting, rolling-over WebSocket
  client owned by one task (``await tg.start(client.run)``).
* :mod:`~tradegw_core.net.http` - :func:`make_async_client`, :class:`Endpoint` and
  :class:`VenueHttp` (rate limit, sign, send, map errors).
* :mod:`~tradegw_core.net.ratelimit` - :class:`TokenBucket` (sans-I/O) and
  :class:`AsyncRateLimiter`.
* :mod:`~tradegw_core.net.backoff` - :class:`Backoff` (capped exponential, full jitter).

Usage::

    from tradegw_core.net import Endpoint, VenueHttp, WsClient, make_async_client

    ws = WsClient(url, on_frame=parser.feed, on_connect=resubscribe, name="kraken")
    await tg.start(ws.run)
    http = VenueHttp(make_async_client("https://api.kraken.com"), venue="kraken")
    book = await http.request(Endpoint("GET", "/0/public/Depth"), params={"pair": "XBTUSD"})
"""

from __future__ import annotations

from tradegw_core.net.backoff import Backoff
from tradegw_core.net.http import Endpoint, VenueHttp, make_async_client
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket
from tradegw_core.net.ws import WsClient
from tradegw_core.net.wsconn import WsConnection, WsStats

__all__ = [
    "AsyncRateLimiter",
    "Backoff",
    "Endpoint",
    "TokenBucket",
    "VenueHttp",
    "WsClient",
    "WsConnection",
    "WsStats",
    "make_async_client",
]
