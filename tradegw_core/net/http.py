"""REST plumbing for venue plugins: a client factory, endpoints as data, error mapping.

* :func:`make_async_client` builds the one ``httpx.AsyncClient`` an adapter keeps for its
  lifetime, with explicit timeouts and connection limits and an injectable transport
  (``httpx.MockTransport`` in tests, an emulator's ASGI app in demos).
* :class:`Endpoint` declares a venue route as data: method, path (``{name}`` placeholders),
  whether it is signed, its rate-limit weight, and whether it changes state on the venue.
* :class:`VenueHttp` sends one request: waits for the weight in the venue's
  :class:`~tradegw_core.net.ratelimit.AsyncRateLimiter`, signs it with the venue's ``signer``,
  and maps failures into :mod:`tradegw_core.errors`:

  ===============================  =============================================
  HTTP 429                         ``RateLimitedError(retry_after=Retry-After)``
  HTTP 418                         ``VenueBannedError(retry_after=Retry-After)``
  HTTP 5xx                         ``VenueError(retryable=True)``
  other 4xx                        ``VenueRejectedError(code=status)``
  connect error / connect timeout  ``VenueConnectionError`` (never sent: retryable);
  or a closed client               ``OrderNotSentError`` for a ``mutating`` endpoint
  read/write timeout, broken read  ``VenueConnectionError``
  ===============================  =============================================

  For a ``mutating`` endpoint (order submission) a 5xx or a failure after the request may
  have been sent raises ``OrderOutcomeUnknownError`` instead: resolve by query, never by
  resending. Before these defaults the venue's ``error_mapper`` sees every response except
  429/418 (Kraken answers errors with HTTP 200) and returns the error to raise or None.
  A 429/418 also blocks the rate limiter for ``Retry-After`` seconds.

Usage::

    DEPTH = Endpoint("GET", "/api/v3/depth", weight=5)
    client = make_async_client("https://api.binance.com", transport=transport)
    http = VenueHttp(client, venue="binance", limiter=AsyncRateLimiter(TokenBucket(6000, 60)),
                     error_mapper=map_binance_error)
    depth = await http.request(DEPTH, params={"symbol": "BTCUSDT", "limit": 1000})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from tradegw_core.errors import (
    AuthenticationError,
    OrderNotSentError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueBannedError,
    VenueConnectionError,
    VenueError,
    VenueRejectedError,
)
from tradegw_core.net.ratelimit import AsyncRateLimiter
from tradegw_core.net.tape import active_tape

__all__ = [
    "Endpoint",
    "ErrorMapper",
    "Signer",
    "VenueHttp",
    "make_async_client",
    "parse_retry_after",
]

ErrorMapper = Callable[[httpx.Response, Any], VenueError | None]
"""Venue hook: ``(response, parsed JSON body or None) -> error to raise, or None``."""

Signer = Callable[["Endpoint", httpx.Request], httpx.Request]
"""Venue hook: return the request with the venue's authentication added."""

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30)

# JSON numbers with a fraction become Decimal: money is never float.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One venue REST route, declared as data."""

    method: str
    path: str
    """Path relative to the client's base URL; may hold ``{name}`` placeholders."""
    signed: bool = False
    weight: int = 1
    """Rate-limit weight spent per call."""
    mutating: bool = False
    """True when a lost answer leaves the venue state unknown (order submission)."""


def make_async_client(
    base_url: str,
    *,
    timeout: httpx.Timeout | None = None,
    limits: httpx.Limits | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """Build the adapter's ``httpx.AsyncClient`` (use it as an async context manager).

    Under ``tradegw record`` / ``replay`` (:mod:`tradegw_core.net.tape`) the transport is
    wrapped by the recorder or replaced by the player.
    """
    tape = active_tape()
    if tape is not None:
        transport = tape.transport(transport)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        limits=limits if limits is not None else DEFAULT_LIMITS,
        transport=transport,
        headers=dict(headers) if headers else None,
        trust_env=False,
        follow_redirects=False,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), None if absent or bad."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class VenueHttp:
    """Sends requests for one venue: rate limit, sign, send, map errors, decode."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        venue: str,
        limiter: AsyncRateLimiter | None = None,
        error_mapper: ErrorMapper | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.client = client
        self.venue = venue
        self.limiter = limiter
        self._error_mapper = error_mapper
        self._signer = signer

    async def request(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:
        """Call ``endpoint``; return the parsed JSON body (floats as Decimal) or raw bytes."""
        if endpoint.signed and self._signer is None:
            raise AuthenticationError(
                f"{endpoint.method} {endpoint.path} is signed but no credentials are "
                f"configured for {self.venue}",
                venue=self.venue,
            )
        path = endpoint.path.format(**path_params) if path_params else endpoint.path
        request = self.client.build_request(
            endpoint.method, path, params=params, json=json, headers=headers
        )
        if self.limiter is not None:
            await self.limiter.acquire(endpoint.weight)
        # Sign after the wait: venue signatures carry a timestamp with a short validity.
        if endpoint.signed and self._signer is not None:
            request = self._signer(endpoint, request)
        response = await self._send(endpoint, request)
        body = self._decode(response)
        self._raise_for(endpoint, response, body)
        if raw:
            return response.content
        if body is _UNPARSED:
            raise VenueError(
                f"{self.venue} {endpoint.method} {endpoint.path}: expected JSON, got "
                f"{response.headers.get('content-type', 'no content type')}",
                venue=self.venue,
            )
        return body

    async def _send(self, endpoint: Endpoint, request: httpx.Request) -> httpx.Response:
        what = f"{self.venue} {endpoint.method} {endpoint.path}"
        never_sent = OrderNotSentError if endpoint.mutating else VenueConnectionError
        if self.client.is_closed:  # e.g. the adapter is restarting: nothing can leave
            raise never_sent(f"{what}: not sent, the HTTP client is closed", venue=self.venue)
        try:
            return await self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise never_sent(f"{what}: could not connect: {exc!r}", venue=self.venue) from exc
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            if endpoint.mutating:
                raise OrderOutcomeUnknownError(
                    f"{what}: no answer ({exc!r}); the venue may have acted: query it",
                    venue=self.venue,
                ) from exc
            raise VenueConnectionError(f"{what}: {exc!r}", venue=self.venue) from exc

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        content = response.content
        if not content:
            return None
        try:
            return _DECODER.decode(content)
        except msgspec.DecodeError:
            return _UNPARSED

    def _raise_for(self, endpoint: Endpoint, response: httpx.Response, body: Any) -> None:
        status = response.status_code
        what = f"{self.venue} {endpoint.method} {endpoint.path}"
        if status in (429, 418):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None and self.limiter is not None:
                self.limiter.block_for(retry_after)
            cls = VenueBannedError if status == 418 else RateLimitedError
            raise cls(
                f"{what}: HTTP {status} (retry after {retry_after} s): {_snippet(response)}",
                venue=self.venue,
                retry_after=retry_after,
            )
        if self._error_mapper is not None:
            mapped = self._error_mapper(response, None if body is _UNPARSED else body)
            if mapped is not None:
                raise mapped
        if status < 400:
            return
        if status >= 500:
            if endpoint.mutating:
                raise OrderOutcomeUnknownError(
                    f"{what}: HTTP {status}; the venue may have acted: query it",
                    venue=self.venue,
                )
            raise VenueError(
                f"{what}: HTTP {status}: {_snippet(response)}", venue=self.venue, retryable=True
            )
        if status in (401, 403):
            raise AuthenticationError(
                f"{what}: HTTP {status}: {_snippet(response)}", venue=self.venue
            )
        raise VenueRejectedError(
            f"{what}: HTTP {status}: {_snippet(response)}", venue=self.venue, code=status
        )


class _Unparsed:
    """Marker for a body that is not JSON."""


_UNPARSED: Any = _Unparsed()


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.content[:limit].decode("utf-8", "replace")
    return text or "(empty body)"
