"""VenueHttp over httpx.MockTransport: status mapping, venue hooks, decoding, pacing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueBannedError,
    VenueConnectionError,
    VenueError,
    VenueRejectedError,
)
from tradegw_core.net.http import Endpoint, VenueHttp, make_async_client, parse_retry_after
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket

pytestmark = pytest.mark.anyio

DEPTH = Endpoint("GET", "/api/v3/depth", weight=5)
ORDER = Endpoint("POST", "/api/v3/order", signed=True, weight=1, mutating=True)
ORDER_BY_ID = Endpoint("GET", "/orders/{order_id}", signed=True)


def http_for(handler: Any, *, limiter: AsyncRateLimiter | None = None, **kwargs: Any) -> VenueHttp:
    client = make_async_client("https://venue.test", transport=httpx.MockTransport(handler))
    return VenueHttp(client, venue="binance", limiter=limiter, **kwargs)


def answer(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return handler


async def test_json_is_decoded_with_exact_decimals_and_params_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b'{"lastUpdateId":1,"px":0.1,"bids":[["1.10","2"]]}')

    http = http_for(handler)
    body = await http.request(DEPTH, params={"symbol": "BTCUSDT", "limit": 5})
    assert body == {"lastUpdateId": 1, "px": Decimal("0.1"), "bids": [["1.10", "2"]]}
    assert isinstance(body["px"], Decimal)
    assert seen[0].url == "https://venue.test/api/v3/depth?symbol=BTCUSDT&limit=5"
    assert await http.request(DEPTH, raw=True) == (
        b'{"lastUpdateId":1,"px":0.1,"bids":[["1.10","2"]]}'
    )


async def test_empty_and_non_json_bodies() -> None:
    assert await http_for(answer(200, b"")).request(DEPTH) is None
    with pytest.raises(VenueError, match="expected JSON"):
        await http_for(answer(200, b"<html>")).request(DEPTH)
    assert await http_for(answer(200, b"<html>")).request(DEPTH, raw=True) == b"<html>"


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "12"}, RateLimitedError, 12.0),
        (429, {}, RateLimitedError, None),
        (418, {"Retry-After": "120"}, VenueBannedError, 120.0),
    ],
)
async def test_rate_limit_answers(
    status: int, headers: dict[str, str], error: type[RateLimitedError], retry_after: float | None
) -> None:
    http = http_for(answer(status, b'{"code":-1003}', headers))
    with pytest.raises(error) as info:
        await http.request(DEPTH)
    assert type(info.value) is error
    assert info.value.retry_after == retry_after
    assert info.value.retryable
    assert info.value.venue == "binance"


async def test_retry_after_holds_back_the_next_request() -> None:
    clock = FakeClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = AsyncRateLimiter(TokenBucket(100, 60.0), clock=clock, sleep=sleep)
    http = http_for(answer(429, b"", {"Retry-After": "30"}), limiter=limiter)
    with pytest.raises(RateLimitedError):
        await http.request(DEPTH)
    await limiter.acquire(1)
    assert waits == [pytest.approx(30.0 + 60.0 / 100)]


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (500, VenueError, True),
        (503, VenueError, True),
        (400, VenueRejectedError, False),
        (404, VenueRejectedError, False),
        (401, AuthenticationError, False),
        (403, AuthenticationError, False),
    ],
)
async def test_status_mapping(status: int, error: type[VenueError], retryable: bool) -> None:
    with pytest.raises(error, match=f"HTTP {status}") as info:
        await http_for(answer(status, b"oops")).request(DEPTH)
    assert info.value.retryable is retryable
    if isinstance(info.value, VenueRejectedError):
        assert info.value.code == status


async def test_transport_failures_are_connection_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(VenueConnectionError, match="could not connect") as info:
        await http_for(refuse).request(DEPTH)
    assert info.value.retryable
    with pytest.raises(VenueConnectionError, match="ReadTimeout"):
        await http_for(slow).request(DEPTH)


async def test_lost_answers_to_mutating_calls_are_unknown_outcomes() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def sign(endpoint: Endpoint, request: httpx.Request) -> httpx.Request:
        return request

    with pytest.raises(OrderOutcomeUnknownError, match="query it"):
        await http_for(slow, signer=sign).request(ORDER, json={"qty": "1"})
    with pytest.raises(OrderOutcomeUnknownError, match="HTTP 502"):
        await http_for(answer(502), signer=sign).request(ORDER, json={"qty": "1"})

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    # Never sent: safe to retry, so not "unknown".
    with pytest.raises(VenueConnectionError):
        await http_for(refuse, signer=sign).request(ORDER, json={"qty": "1"})


async def test_venue_error_mapper_sees_bodies_even_on_http_200() -> None:
    def kraken_errors(response: httpx.Response, body: Any) -> VenueError | None:
        if isinstance(body, dict) and body.get("error"):
            return VenueRejectedError(body["error"][0], venue="kraken", code=body["error"][0])
        return None

    http = http_for(
        answer(200, b'{"error":["EGeneral:Invalid arguments"]}'), error_mapper=kraken_errors
    )
    with pytest.raises(VenueRejectedError, match="EGeneral") as info:
        await http.request(DEPTH)
    assert info.value.code == "EGeneral:Invalid arguments"
    ok = http_for(answer(200, b'{"error":[],"result":{}}'), error_mapper=kraken_errors)
    assert await ok.request(DEPTH) == {"error": [], "result": {}}


async def test_signed_endpoints_need_a_signer_and_get_signed() -> None:
    with pytest.raises(AuthenticationError, match="no credentials"):
        await http_for(answer(200)).request(ORDER)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"orderId": 7})

    def sign(endpoint: Endpoint, request: httpx.Request) -> httpx.Request:
        request.headers["X-KEY"] = "k"
        return request

    http = http_for(handler, signer=sign)
    assert await http.request(ORDER_BY_ID, path_params={"order_id": "ab-1"}) == {"orderId": 7}
    assert seen[0].url.path == "/orders/ab-1"
    assert seen[0].headers["X-KEY"] == "k"


async def test_requests_spend_their_endpoint_weight() -> None:
    clock = FakeClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = AsyncRateLimiter(TokenBucket(10, 1.0), clock=clock, sleep=sleep)
    http = http_for(answer(200), limiter=limiter)
    await http.request(DEPTH)
    await http.request(DEPTH)
    assert waits == []
    await http.request(DEPTH)  # 15 weight against 10 per second: wait 0.5 s
    assert waits == [pytest.approx(0.5)]


def test_parse_retry_after() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None


async def test_client_factory_sets_explicit_timeouts_and_limits() -> None:
    async with make_async_client("https://venue.test", headers={"X-A": "1"}) as client:
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 10.0
        assert client.headers["X-A"] == "1"
        assert client._transport._pool._max_connections == 20  # type: ignore[attr-defined]
