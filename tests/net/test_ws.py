"""WsClient against real loopback ``websockets`` servers started by each test."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tradegw_core.errors import (
    AuthenticationError,
    RateLimitedError,
    StaleFeedError,
    VenueConnectionError,
)
from tradegw_core.net.backoff import Backoff
from tradegw_core.net.ws import WsClient, WsConnection

pytestmark = pytest.mark.anyio

SUBSCRIBE = {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}


class Venue:
    """A loopback venue: records each socket, what it received, and a timeline."""

    def __init__(self, behaviour: Callable[[Venue, int, ServerConnection], Awaitable[None]]):
        self.behaviour = behaviour
        self.received: dict[int, list[str]] = {}
        self.timeline: list[str] = []
        self.close_codes: dict[int, int | None] = {}
        self.changed = anyio.Event()
        self.count = 0
        self.url = ""

    def note(self, what: str) -> None:
        self.timeline.append(what)
        self.changed.set()

    async def wait_for(self, what: str) -> None:
        while what not in self.timeline:
            self.changed = anyio.Event()
            await self.changed.wait()

    async def handler(self, ws: ServerConnection) -> None:
        self.count += 1
        n = self.count
        self.received[n] = []
        self.note(f"open {n}")
        try:
            await self.behaviour(self, n, ws)
        finally:
            await ws.wait_closed()
            self.close_codes[n] = ws.close_code
            self.note(f"closed {n}")

    async def recv(self, n: int, ws: ServerConnection) -> str:
        data = await ws.recv()
        msg = data if isinstance(data, str) else f"bytes {data!r}"
        self.received[n].append(msg)
        self.note(f"msg {n} {msg}")
        return msg


@asynccontextmanager
async def venue(
    behaviour: Callable[[Venue, int, ServerConnection], Awaitable[None]],
    process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
) -> AsyncIterator[Venue]:
    v = Venue(behaviour)
    server: Server
    async with serve(v.handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        v.url = f"ws://127.0.0.1:{port}"
        yield v


def fast_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05, rng=random.Random(5))


async def subscribe(conn: WsConnection) -> None:
    await conn.send(SUBSCRIBE)


async def test_frames_arrive_and_a_dropped_socket_reconnects_and_resubscribes(
    telemetry: Any,
) -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await v.recv(n, ws)
        if n == 1:
            await ws.send("a1")
            await ws.send(b"a2")
            await ws.close(1001, "going away")
        else:
            await ws.send("b1")

    frames: list[tuple[bytes | str, int]] = []
    got_b1 = anyio.Event()

    def on_frame(data: bytes | str, ts: int) -> None:
        frames.append((data, ts))
        if data == "b1":
            got_b1.set()

    async with venue(behaviour) as v:
        client = WsClient(
            v.url,
            on_frame=on_frame,
            on_connect=subscribe,
            name="binance",
            telemetry=telemetry,
            backoff=fast_backoff(),
        )
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                await tg.start(client.run)
                await got_b1.wait()
                tg.cancel_scope.cancel()

    assert [f for f, _ in frames] == ["a1", b"a2", "b1"]
    assert all(isinstance(ts, int) and ts > 0 for _, ts in frames)
    # The venue saw the subscription again on the second socket.
    assert [json.loads(m) for m in v.received[1]] == [SUBSCRIBE]
    assert [json.loads(m) for m in v.received[2]] == [SUBSCRIBE]
    assert client.stats.reconnects == 1
    assert client.stats.connects == 2
    assert isinstance(client.stats.last_error, VenueConnectionError)
    assert telemetry.named("ws.reconnect") == [{"provider": "binance", "reason": "closed"}]


async def test_a_silent_feed_is_detected_as_stale_and_replaced(telemetry: Any) -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await v.recv(n, ws)
        await ws.send(f"hello {n}")  # then silence, socket kept open

    async with venue(behaviour) as v:
        client = WsClient(
            v.url,
            on_frame=lambda d, t: None,
            on_connect=subscribe,
            name="kraken",
            telemetry=telemetry,
            stale_after_s=0.2,
            backoff=fast_backoff(),
        )
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                await tg.start(client.run)
                await v.wait_for(f"msg 2 {json.dumps(SUBSCRIBE, separators=(',', ':'))}")
                tg.cancel_scope.cancel()

    assert client.stats.stale == 1
    assert isinstance(client.stats.last_error, StaleFeedError)
    assert telemetry.named("ws.stale") == [{"provider": "kraken"}]
    assert telemetry.named("ws.reconnect") == [{"provider": "kraken", "reason": "stale"}]
    assert "closed 1" in v.timeline  # the stale socket was closed, not leaked


class Feed:
    """A venue feed: numbers every frame and sends it to every subscribed socket."""

    def __init__(self) -> None:
        self.subs: dict[int, ServerConnection] = {}
        self.last = 0
        self.stop_at: int | None = None
        self.stopped = anyio.Event()

    async def run(self) -> None:
        while self.stop_at is None or self.last < self.stop_at:
            self.last += 1
            for n, ws in list(self.subs.items()):
                try:
                    await ws.send(str(self.last))
                except Exception:  # that socket is closing: it leaves the feed
                    self.subs.pop(n, None)
            await anyio.sleep(0.002)  # pace the feed like a venue does, not a wait
        self.stopped.set()


@pytest.mark.parametrize("planned", ["timer", "request"])
async def test_rollover_opens_the_new_socket_first_and_loses_nothing(
    telemetry: Any, planned: str
) -> None:
    feed = Feed()

    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await v.recv(n, ws)
        feed.subs[n] = ws

    received: set[int] = set()
    caught_up = anyio.Event()

    def on_frame(data: bytes | str, ts: int) -> None:
        received.add(int(data))
        if feed.stopped.is_set() and feed.last in received:
            caught_up.set()

    async with venue(behaviour) as v:
        client = WsClient(
            v.url,
            on_frame=on_frame,
            on_connect=subscribe,
            name="binance",
            telemetry=telemetry,
            backoff=fast_backoff(),
            max_lifetime_s=0.4 if planned == "timer" else None,
            rollover_margin_s=0.2,
        )
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                await tg.start(client.run)
                await v.wait_for("msg 1 " + json.dumps(SUBSCRIBE, separators=(",", ":")))
                tg.start_soon(feed.run)
                if planned == "request":
                    client.request_rollover()
                await v.wait_for("closed 1")
                feed.stop_at = feed.last + 5  # a few frames on the new socket alone
                await feed.stopped.wait()
                if feed.last not in received:
                    await caught_up.wait()
                tg.cancel_scope.cancel()

    # The new socket subscribed before the old one closed ...
    assert v.timeline.index("open 2") < v.timeline.index("closed 1")
    sub2 = next(i for i, t in enumerate(v.timeline) if t.startswith("msg 2"))
    assert sub2 < v.timeline.index("closed 1")
    # ... so every frame the venue sent reached us.
    assert set(range(1, feed.last + 1)) <= received
    assert client.stats.rollovers == 1
    assert client.stats.reconnects == 0
    assert v.close_codes[1] == 1000
    assert telemetry.named("ws.rollover") == [{"provider": "binance"}]


def _refusing(status: int, retry_after: str | None = None) -> Callable[..., Response]:
    def process_request(conn: ServerConnection, request: Request) -> Response:
        response = conn.respond(status, "no\n")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    return process_request


async def _never(v: Venue, n: int, ws: ServerConnection) -> None:
    raise AssertionError("the handshake should have been refused")


async def test_refused_connections_give_up_after_max_failures(telemetry: Any) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WsClient(
        f"ws://127.0.0.1:{port}",
        on_frame=lambda d, t: None,
        name="coinbase",
        telemetry=telemetry,
        backoff=fast_backoff(),
        max_failures=3,
    )
    with anyio.fail_after(5), pytest.raises(VenueConnectionError, match="coinbase: connect"):
        await client.run()
    assert client.stats.connect_failures == 3
    assert [e["error"] for e in telemetry.named("ws.connect_failed")] == [
        "VenueConnectionError"
    ] * 3


async def test_handshake_429_is_rate_limited_with_retry_after() -> None:
    async with venue(_never, _refusing(429, "7")) as v:
        client = WsClient(v.url, on_frame=lambda d, t: None, max_failures=1)
        with anyio.fail_after(5), pytest.raises(RateLimitedError) as info:
            await client.run()
    assert info.value.retry_after == 7.0
    assert info.value.retryable


async def test_handshake_429_then_success_waits_retry_after() -> None:
    refused = {"count": 0}

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        if refused["count"] == 0:
            refused["count"] += 1
            return _refusing(429, "0.05")(conn, request)
        return None

    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await v.recv(n, ws)

    async with venue(behaviour, process_request) as v:
        client = WsClient(
            v.url, on_frame=lambda d, t: None, on_connect=subscribe, backoff=fast_backoff()
        )
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                before = anyio.current_time()
                await tg.start(client.run)
                assert anyio.current_time() - before >= 0.05
                tg.cancel_scope.cancel()
    assert client.stats.connect_failures == 1
    assert isinstance(client.stats.last_error, RateLimitedError)


@pytest.mark.parametrize(
    ("status", "error"), [(403, AuthenticationError), (404, VenueConnectionError)]
)
async def test_non_retryable_handshake_refusals_end_run_at_once(
    status: int, error: type[Exception]
) -> None:
    async with venue(_never, _refusing(status)) as v:
        client = WsClient(v.url, on_frame=lambda d, t: None, backoff=fast_backoff())
        with anyio.fail_after(5), pytest.raises(error, match=f"HTTP {status}"):
            await client.run()
    assert client.stats.connect_failures == 1


async def test_bad_url_is_not_retried() -> None:
    client = WsClient("http://not-a-websocket", on_frame=lambda d, t: None)
    with anyio.fail_after(5), pytest.raises(VenueConnectionError) as info:
        await client.run()
    assert not info.value.retryable


async def test_context_manager_sends_json_pings_and_closes_cleanly() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        while True:
            await v.recv(n, ws)

    async with venue(behaviour) as v:
        client = WsClient(
            v.url,
            on_frame=lambda d, t: None,
            app_ping=lambda: {"method": "ping"},
            app_ping_interval_s=0.05,
        )
        with anyio.fail_after(5):
            with pytest.raises(VenueConnectionError, match="not connected"):
                await client.send("early")
            async with client as ws:
                assert ws.connected
                await ws.send({"method": "subscribe", "params": {"channel": "book"}})
                await ws.send(b"\x01binary")  # bytes go as a binary frame
                await v.wait_for('msg 1 {"method":"ping"}')
            assert not client.connected
            await v.wait_for("closed 1")
    assert v.received[1][0] == '{"method":"subscribe","params":{"channel":"book"}}'
    assert v.received[1][1] == "bytes b'\\x01binary'"
    assert v.close_codes[1] == 1000  # a clean close on cancel


async def test_a_failing_frame_handler_is_a_rejected_frame_and_reading_goes_on() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await ws.send("boom")
        await ws.send("fine")
        await ws.wait_closed()

    seen: list[bytes | str] = []
    rejects: list[tuple[str, str, BaseException | None]] = []
    fine = anyio.Event()

    def on_frame(data: bytes | str, ts: int) -> None:
        if data == "boom":
            raise ValueError(f"cannot parse {data!r}")
        seen.append(data)
        fine.set()

    def on_reject(reason: str, *, detail: str = "", exc: BaseException | None = None) -> None:
        rejects.append((reason, detail, exc))

    async with venue(behaviour) as v:
        client = WsClient(v.url, on_frame=on_frame, on_reject=on_reject)
        async with client:
            with anyio.fail_after(5):
                await fine.wait()
        assert seen == ["fine"]
        assert v.count == 1
        assert client.stats.rejected == 1
        [(reason, detail, exc)] = rejects
        assert reason == "handler_error"
        assert "cannot parse 'boom'" in detail
        assert isinstance(exc, ValueError)


async def test_a_venue_error_from_the_frame_handler_replaces_the_socket() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await ws.send(f"frame {n}")
        await ws.wait_closed()

    second = anyio.Event()

    def on_frame(data: bytes | str, ts: int) -> None:
        if data == "frame 1":
            raise VenueConnectionError("the venue said: reconnect")
        second.set()

    async with venue(behaviour) as v:
        client = WsClient(v.url, on_frame=on_frame, backoff=fast_backoff())
        async with client:
            with anyio.fail_after(5):
                await second.wait()
        assert v.count == 2
        assert client.stats.rejected == 0


async def test_a_frame_over_max_size_closes_the_socket_and_is_counted_too_large() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await ws.send("x" * 5000 if n == 1 else "after")
        await ws.wait_closed()

    after = anyio.Event()
    reasons: list[str] = []

    def on_frame(data: bytes | str, ts: int) -> None:
        after.set()

    async with venue(behaviour) as v:
        client = WsClient(
            v.url,
            on_frame=on_frame,
            on_reject=lambda reason, **kw: reasons.append(reason),
            max_size=4096,
            max_frame_bytes=1024,
            backoff=fast_backoff(),
        )
        async with client:
            with anyio.fail_after(5):
                await after.wait()
        assert reasons == ["too_large"]
        assert v.count == 2
        assert v.close_codes[1] == 1009  # "message too big", said by the client


async def test_run_twice_is_refused() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with venue(behaviour) as v:
        client = WsClient(v.url, on_frame=lambda d, t: None)
        with anyio.fail_after(5):
            async with client:
                with pytest.raises(RuntimeError, match="already running"):
                    await client.run()


async def test_a_steady_feed_slower_than_the_deadline_refresh_is_not_stale() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        for i in range(20):  # 0.6 s of frames, three times the stale deadline
            await ws.send(str(i))
            await anyio.sleep(0.03)

    got_all = anyio.Event()
    count = [0]

    def on_frame(data: bytes | str, ts: int) -> None:
        count[0] += 1
        if count[0] == 20:
            got_all.set()

    async with venue(behaviour) as v:
        client = WsClient(v.url, on_frame=on_frame, stale_after_s=0.2, backoff=fast_backoff())
        with anyio.fail_after(5):
            async with client:
                await got_all.wait()
    assert client.stats.stale == 0
    assert client.stats.reconnects == 0


async def test_handshake_418_is_a_ban() -> None:
    async with venue(_never, _refusing(418, "600")) as v:
        client = WsClient(v.url, on_frame=lambda d, t: None, max_failures=1)
        with anyio.fail_after(5), pytest.raises(RateLimitedError) as info:
            await client.run()
    assert type(info.value).__name__ == "VenueBannedError"
    assert info.value.retry_after == 600.0


async def test_a_failed_on_connect_is_retried_on_a_fresh_socket() -> None:
    async def behaviour(v: Venue, n: int, ws: ServerConnection) -> None:
        await v.recv(n, ws)

    attempts: list[int] = []

    async def on_connect(conn: WsConnection) -> None:
        attempts.append(conn.number)
        if conn.number == 1:
            raise VenueConnectionError("subscription refused")
        await conn.send(SUBSCRIBE)

    async with venue(behaviour) as v:
        client = WsClient(
            v.url, on_frame=lambda d, t: None, on_connect=on_connect, backoff=fast_backoff()
        )
        with anyio.fail_after(5):
            async with client:
                await v.wait_for("msg 2 " + json.dumps(SUBSCRIBE, separators=(",", ":")))
                await v.wait_for("closed 1")
    assert attempts == [1, 2]
    assert client.stats.connect_failures == 1
    assert v.received[1] == []


async def test_entering_fails_when_the_venue_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WsClient(f"ws://127.0.0.1:{port}", on_frame=lambda d, t: None, max_failures=1)
    with anyio.fail_after(5), pytest.raises(VenueConnectionError):
        async with client:
            pass  # pragma: no cover - never entered
