"""The emulator base on loopback: real websockets and httpx clients, every injected fault."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tradegw_core.schema.events import Side
from tradegw_core.sim import (
    AcceptThenTimeout,
    Close,
    Corrupt,
    Delay,
    Drop,
    Duplicate,
    Emulator,
    EmulatorConfig,
    ExecEvent,
    HttpRequest,
    HttpResponse,
    MarketEvent,
    MarketSimulator,
    RejectOrder,
    Reorder,
    Route,
    SimTrade,
    Slow,
    Stall,
    Status,
    WsConnection,
    default_symbol_spec,
)

pytestmark = pytest.mark.anyio


class EchoEmulator(Emulator):
    """A tiny venue: ``echo X`` answers X, ``sub SYMBOL`` streams book seqs, REST orders."""

    ws_path = "/ws"

    def http_routes(self) -> list[Route]:
        return [
            Route("GET", "/ping", self.ping),
            Route("POST", "/order", self.order),
            Route("GET", "/book/{symbol}", self.book),
            Route("GET", "/boom", self.boom),
        ]

    async def ping(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"pong": True, "query": request.query()})

    async def boom(self, request: HttpRequest) -> HttpResponse:
        raise RuntimeError("handler bug")

    async def book(self, request: HttpRequest) -> HttpResponse:
        book = self.sim.book(self.venue, request.path_params["symbol"], depth=2)
        return HttpResponse.json({"seq": book.seq, "bids": book.bids, "asks": book.asks})

    async def order(self, request: HttpRequest) -> HttpResponse:
        body = request.json()
        events = self.engines[body["symbol"]].place(
            "main", body["id"], Side(body["side"]), Decimal(body["qty"]), Decimal(body["price"])
        )
        return HttpResponse.json({"state": events[-1].state, "reason": events[0].reason})

    async def on_ws_connect(self, conn: WsConnection) -> None:
        self.gone = anyio.Event()
        conn.send_nowait("hello")

    async def on_ws_disconnect(self, conn: WsConnection) -> None:
        self.gone.set()

    async def on_ws_message(self, conn: WsConnection, message: str | bytes) -> None:
        cmd, _, arg = str(message).partition(" ")
        if cmd == "echo":
            await conn.send(arg)
        elif cmd == "sub":
            conn.subscriptions.add(arg)
            await conn.send(f"subscribed {arg}")
        elif cmd == "burst":
            for i in range(int(arg)):
                conn.send_nowait(str(i))
        elif cmd == "info":
            await conn.send(json.dumps({"path": conn.path, "query": conn.query}))
        elif cmd == "timer":
            conn.start_soon(conn.send, "tick")
        elif cmd == "bye":
            await conn.close(4000, "bye")
        elif cmd == "boom":
            raise RuntimeError("venue bug")

    def on_market_event(self, event: MarketEvent) -> None:
        kind = "trade" if isinstance(event, SimTrade) else "book"
        seq = event.trade_id if isinstance(event, SimTrade) else event.seq
        frame = json.dumps({"kind": kind, "symbol": event.symbol, "seq": seq})
        self.broadcast(frame, lambda c: event.symbol in c.subscriptions)

    def on_exec_event(self, event: ExecEvent) -> None:
        self.broadcast(f"exec {event.client_order_id} {event.state}", None)

    async def on_ws_lifetime_end(self, conn: WsConnection) -> None:
        await conn.send("lifetime")

    def corrupt_frame(self, conn: WsConnection, frame: str | bytes) -> str | bytes:
        return f"{frame!s}|badsum"


@pytest.fixture
async def emu() -> AsyncIterator[EchoEmulator]:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=3, start_ns=0)
    config = EmulatorConfig(venue="echo", symbols=("BTC-USDT",), simulator=sim)
    async with EchoEmulator(config) as running:
        yield running


async def _client(emu: Emulator) -> ClientConnection:
    ws = await connect(emu.ws_url)
    assert await ws.recv() == "hello"
    return ws


async def _echo(ws: ClientConnection, *words: str) -> None:
    for word in words:
        await ws.send(f"echo {word}")


async def _recv(ws: ClientConnection, n: int) -> list[str | bytes]:
    with anyio.fail_after(2):
        return [await ws.recv() for _ in range(n)]


async def _drain(ws: ClientConnection) -> None:
    async for _ in ws:
        pass
    await ws.recv()  # raises ConnectionClosed with the close code


async def test_urls_and_rest_round_trip(emu: EchoEmulator) -> None:
    assert emu.rest_url.startswith("http://127.0.0.1:")
    assert emu.ws_url.startswith("ws://127.0.0.1:")
    assert emu.ws_url.endswith("/ws")
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        with anyio.fail_after(2):
            ping = await http.get("/ping?a=1&a=2")
            book = await http.get("/book/BTC-USDT")
            missing = await http.get("/nope")
            wrong_method = await http.post("/ping")
            broken = await http.get("/boom")
    assert ping.json() == {"pong": True, "query": {"a": "2"}}
    assert book.json()["asks"][0][0] == str(emu.sim.book("echo", "BTC-USDT").asks[0][0])
    assert (missing.status_code, wrong_method.status_code, broken.status_code) == (404, 405, 500)


async def test_market_events_reach_subscribed_connections(emu: EchoEmulator) -> None:
    async with await _client(emu) as ws:
        await ws.send("sub BTC-USDT")
        assert await _recv(ws, 1) == ["subscribed BTC-USDT"]
        events = emu.sim.events(3)
        frames = [json.loads(f) for f in await _recv(ws, len(events))]
    assert [f["seq"] for f in frames if f["kind"] == "book"] == [
        e.seq for e in events if not isinstance(e, SimTrade)
    ]


async def test_ws_drop(emu: EchoEmulator) -> None:
    rule = emu.faults.ws(Drop(), match=lambda conn, frame: frame == "2")
    async with await _client(emu) as ws:
        await _echo(ws, "1", "2", "3")
        assert await _recv(ws, 2) == ["1", "3"]
    assert rule.fired == 1


async def test_ws_duplicate_and_per_connection_plan(emu: EchoEmulator) -> None:
    async with await _client(emu) as ws:
        conn = next(iter(emu.connections.values()))
        conn.faults.ws(Duplicate(), match=lambda c, frame: frame == "2")
        await _echo(ws, "1", "2", "3")
        assert await _recv(ws, 4) == ["1", "2", "2", "3"]


async def test_ws_reorder_swaps_with_next(emu: EchoEmulator) -> None:
    emu.faults.ws(Reorder(), match=lambda conn, frame: frame == "2")
    async with await _client(emu) as ws:
        await _echo(ws, "1", "2", "3", "4")
        assert await _recv(ws, 4) == ["1", "3", "2", "4"]


async def test_ws_delay(emu: EchoEmulator) -> None:
    emu.faults.ws(Delay(0.15), match=lambda conn, frame: frame == "slow")
    async with await _client(emu) as ws:
        start = anyio.current_time()
        await _echo(ws, "slow", "after")
        assert await _recv(ws, 2) == ["slow", "after"]
        assert anyio.current_time() - start >= 0.15


async def test_ws_corrupt_uses_venue_callback_or_given_fn(emu: EchoEmulator) -> None:
    emu.faults.ws(Corrupt(), match=lambda conn, frame: frame == "a")
    emu.faults.ws(Corrupt(fn=lambda frame: "X"), match=lambda conn, frame: frame == "b")
    async with await _client(emu) as ws:
        await _echo(ws, "a", "b", "c")
        assert await _recv(ws, 3) == ["a|badsum", "X", "c"]


async def test_ws_close_fault(emu: EchoEmulator) -> None:
    emu.faults.ws(Close(4001, "injected"), match=lambda conn, frame: frame == "2")
    async with await _client(emu) as ws:
        await _echo(ws, "1", "2", "3")
        assert await _recv(ws, 1) == ["1"]
        with pytest.raises(ConnectionClosed) as info:
            await _recv(ws, 1)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001


async def test_ws_stall_keeps_socket_open_and_sends_nothing(emu: EchoEmulator) -> None:
    emu.faults.ws(Stall(), match=lambda conn, frame: frame == "stall")
    async with await _client(emu) as ws:
        await _echo(ws, "1", "stall", "2", "3")
        assert await _recv(ws, 1) == ["1"]
        with anyio.move_on_after(0.2) as scope:
            await ws.recv()
        assert scope.cancelled_caught
        with anyio.fail_after(2):
            await (await ws.ping())  # the socket itself is alive


async def test_ws_timed_stall_resumes(emu: EchoEmulator) -> None:
    emu.faults.ws(Stall(0.1), match=lambda conn, frame: frame == "stall")
    async with await _client(emu) as ws:
        start = anyio.current_time()
        await _echo(ws, "stall")
        got: str | bytes | None = None
        with anyio.fail_after(2):
            n = 0
            while got is None:
                n += 1
                await _echo(ws, str(n))
                with anyio.move_on_after(0.02):
                    got = await ws.recv()
        assert anyio.current_time() - start >= 0.1
        assert got == str(n)


async def test_outbox_overflow_disconnects_slow_consumer() -> None:
    config = EmulatorConfig(venue="echo", symbols=("BTC-USDT",), ws_buffer=2)
    async with EchoEmulator(config) as emu:
        emu.faults.ws(Delay(0.3), match=lambda conn, frame: frame == "0")
        async with await _client(emu) as ws:
            await ws.send("burst 10")
            with pytest.raises(ConnectionClosed) as info, anyio.fail_after(2):
                await _drain(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008


async def test_connection_lifetime_sends_notice_then_closes() -> None:
    config = EmulatorConfig(venue="echo", symbols=("BTC-USDT",), connection_lifetime_s=0.05)
    async with EchoEmulator(config) as emu, await _client(emu) as ws:
        assert await _recv(ws, 1) == ["lifetime"]
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(2):
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1000


async def test_venue_close_and_handler_error(emu: EchoEmulator) -> None:
    async with await _client(emu) as ws:
        await ws.send("bye")
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(2):
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4000
    async with await _client(emu) as ws:
        await ws.send("boom")
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(2):
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1011
    with anyio.fail_after(2):
        await emu.gone.wait()
    assert emu.connections == {}


@pytest.mark.parametrize(
    ("action", "status", "retry_after"),
    [(Status(429, retry_after=3), 429, "3"), (Status(418), 418, None), (Status(503), 503, None)],
)
async def test_http_status_faults(
    emu: EchoEmulator, action: Status, status: int, retry_after: str | None
) -> None:
    emu.faults.http(action, match=lambda req: req.path == "/ping")
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        with anyio.fail_after(2):
            faulted = await http.get("/ping")
            normal = await http.get("/ping")
    assert faulted.status_code == status
    assert faulted.headers.get("retry-after") == retry_after
    assert normal.status_code == 200


async def test_http_slow(emu: EchoEmulator) -> None:
    emu.faults.http(Slow(0.15))
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        start = anyio.current_time()
        with anyio.fail_after(2):
            response = await http.get("/ping")
    assert response.status_code == 200
    assert anyio.current_time() - start >= 0.15


def _order(coid: str) -> dict[str, str]:
    return {"symbol": "BTC-USDT", "id": coid, "side": "buy", "qty": "0.01", "price": "50000.00"}


async def test_order_accepted_then_timeout_is_applied(emu: EchoEmulator) -> None:
    emu.faults.http(AcceptThenTimeout(), match=lambda req: req.path == "/order")
    async with httpx.AsyncClient(base_url=emu.rest_url, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout), anyio.fail_after(2):
            await http.post("/order", json=_order("lost-1"))
        with anyio.fail_after(2):
            again = await http.post("/order", json=_order("lost-1"))
    applied = emu.engines["BTC-USDT"].order("main", client_order_id="lost-1")
    assert applied is not None
    assert applied.state == "new"
    assert again.json() == {"state": "rejected", "reason": "duplicate_client_order_id"}


async def test_order_reject_fault(emu: EchoEmulator) -> None:
    emu.faults.order(RejectOrder("venue busy"), match=lambda intent: intent.side is Side.BUY)
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        with anyio.fail_after(2):
            first = await http.post("/order", json=_order("r1"))
            second = await http.post("/order", json=_order("r2"))
    assert first.json() == {"state": "rejected", "reason": "injected"}
    assert second.json() == {"state": "new", "reason": None}


async def test_exec_events_reach_the_user_stream(emu: EchoEmulator) -> None:
    async with await _client(emu) as ws:
        emu.engines["BTC-USDT"].place("main", "u1", Side.BUY, Decimal("0.01"), Decimal("50000"))
        assert await _recv(ws, 1) == ["exec u1 new"]


async def test_not_running_has_no_urls() -> None:
    emu = Emulator(EmulatorConfig(venue="idle"))
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.rest_url
    assert emu.account_for_key("idle-test-key") is not None
    assert emu.account_for_key("nope") is None


async def test_control_endpoint_scripts_faults_and_reports_status(emu: EchoEmulator) -> None:
    async with httpx.AsyncClient(base_url=emu.rest_url) as http:
        with anyio.fail_after(2):
            added = await http.post(
                "/__emulator__/faults",
                json={"target": "http", "action": "status", "status": 500, "count": None},
            )
            bad = await http.post("/__emulator__/faults", json={"target": "nope"})
            not_object = await http.post("/__emulator__/faults", json=[1])
            faulted = await http.get("/ping")
            status = await http.get("/__emulator__/status")  # control paths never fault
            cleared = await http.delete("/__emulator__/faults")
            healthy = await http.get("/ping")
    assert (added.status_code, bad.status_code, not_object.status_code) == (200, 400, 400)
    assert faulted.status_code == 500
    assert status.json()["venue"] == "echo"
    assert status.json()["accounts"]["main"]["USDT"]["free"] == "1000000"
    assert (cleared.status_code, healthy.status_code) == (200, 200)


async def test_connection_sees_path_query_and_owns_timers(emu: EchoEmulator) -> None:
    async with connect(emu.ws_url + "?streams=a/b&x=1") as ws:
        assert await _recv(ws, 1) == ["hello"]
        await ws.send("info")
        await ws.send("timer")
        info, tick = await _recv(ws, 2)
        conn = next(iter(emu.connections.values()))
    assert json.loads(info) == {"path": "/ws", "query": {"streams": "a/b", "x": "1"}}
    assert tick == "tick"
    with anyio.fail_after(2):
        await emu.gone.wait()
    assert conn.closed.is_set()
    assert conn.send_nowait("late") is False
    await conn.send("late")
    await conn.close()
    assert conn.frames_sent == 3
    assert conn.frames_received == 2


def test_venue_callback_errors_do_not_stop_the_market() -> None:
    class Broken(Emulator):
        def on_market_event(self, event: MarketEvent) -> None:
            raise RuntimeError("bug")

        def on_exec_event(self, event: ExecEvent) -> None:
            raise RuntimeError("bug")

    emu = Broken(EmulatorConfig(venue="broken", symbols=("BTC-USDT",)))
    assert emu.sim.events(5)
    placed = emu.engines["BTC-USDT"].place("main", "x", Side.BUY, Decimal("0.01"), Decimal(50000))
    assert placed[0].state == "new"
