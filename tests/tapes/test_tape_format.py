"""The tape format and the player's rules, on hand-made records (no gateway)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.exceptions import ConnectionClosedOK

from tradegw_core.net.http import make_async_client
from tradegw_core.net.tape import (
    TapePlayer,
    TapeRecorder,
    TapeWriter,
    active_tape,
    read_tape,
    using_tape,
)

pytestmark = pytest.mark.anyio


def test_writer_rolls_segments_and_stops_at_its_bound(tmp_path: Path) -> None:
    writer = TapeWriter(tmp_path, segment_bytes=200, max_bytes=700)
    for i in range(40):
        writer.write([i, "recv", "c#1", "x" * 40])
    writer.close()
    assert len(writer.segments) > 1
    assert writer.written <= 700
    assert writer.dropped == 40 - writer.records > 0
    records = read_tape(tmp_path)
    assert [r[0] for r in records] == list(range(writer.records))  # in order, across files
    assert read_tape(writer.segments[0])[0] == (0, "recv", "c#1", "x" * 40, None)


def test_read_tape_refuses_what_is_not_a_tape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tape segments"):
        read_tape(tmp_path)
    bad = tmp_path / "tape-0000.jsonl"
    bad.write_text('{"tape": 99}\n')
    with pytest.raises(ValueError, match="not a version-1 tradegw tape"):
        read_tape(tmp_path)
    bad.write_text('{"tape": 1}\n[1, "recv"]\n')
    with pytest.raises(ValueError, match=":2: bad tape record"):
        read_tape(bad)


class _Socket:
    def __init__(self, frames: list[str | bytes]) -> None:
        self.frames = frames
        self.sent: list[str | bytes] = []
        self.closed = False

    async def recv(self) -> str | bytes:
        if not self.frames:
            raise ConnectionClosedOK(None, None)
        return self.frames.pop(0)

    async def send(self, data: str | bytes) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


async def test_recorder_writes_frames_sends_answers_and_the_close(tmp_path: Path) -> None:
    writer = TapeWriter(tmp_path)
    clock = iter(range(100, 200))
    recorder = TapeRecorder(writer, now_ns=lambda: next(clock))
    sock = _Socket(["hello", b"\x00\x01"])

    async def opener(url: str, **kwargs: Any) -> _Socket:
        return sock

    ws = await recorder.connect("v-md0#1", "ws://x", opener, {}, '{"method":"ping"}')
    await ws.send('{"method":"subscribe"}')
    await ws.send('{"method":"ping"}')  # app pings are not recorded
    assert await ws.recv() == "hello"
    assert await ws.recv() == b"\x00\x01"
    with pytest.raises(ConnectionClosedOK):
        await ws.recv()
    await ws.close()
    body = {"result": [1, 2]}
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with using_tape(recorder):
        assert active_tape() is recorder
        async with make_async_client("https://venue.test", transport=mock) as client:
            assert (await client.get("/pairs", params={"a": "1"})).json() == body
    assert active_tape() is None
    writer.close()
    kinds = [(r[1], r[2]) for r in read_tape(tmp_path)]
    assert kinds == [
        ("open", "v-md0#1"), ("send", "v-md0#1"), ("recv", "v-md0#1"), ("recvb", "v-md0#1"),
        ("close", "v-md0#1"), ("http", "GET https://venue.test/pairs?a=1"),
    ]  # fmt: skip
    assert sock.sent == ['{"method":"subscribe"}', '{"method":"ping"}']
    assert sock.closed


async def test_player_hands_records_out_in_order_and_paces_them() -> None:
    records = [
        (0, "open", "c#1", "ws://x", None),
        (0, "send", "c#1", "sub", None),
        (1_000_000, "recv", "c#1", "a", None),
        (2_000_000, "recvb", "c#1", "Yg==", None),
        (50_000_000, "http", "GET https://v.test/x", json.dumps({"ok": 1}), 200),
        (60_000_000, "close", "c#1", "bye", None),
    ]
    player = TapePlayer(records, pace=1.0)
    with anyio.fail_after(5):
        ws = await player.connect("c#1", "ws://x", None, {}, None)  # type: ignore[arg-type]
        got: list[Any] = []

        async def read() -> None:
            try:
                while True:
                    got.append(await ws.recv())
            except ConnectionClosedOK:
                got.append("closed")

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.wait_all_tasks_blocked()
            assert got == []  # the frame waits for the subscribe recorded before it
            start = anyio.current_time()
            await ws.send("sub")
            transport = player.transport(None)
            answer = await transport.handle_async_request(httpx.Request("GET", "https://v.test/x"))
            assert answer.status_code == 200
            assert json.loads(answer.read()) == {"ok": 1}
        assert anyio.current_time() - start >= 0.05  # recorded pace: the close came at 60 ms
    assert got == ["a", b"b", "closed"]
    assert player.done.is_set()
    assert player.skipped == 0
    with pytest.raises(OSError, match="no connection"):
        await player.connect("c#2", "ws://x", None, {}, None)  # type: ignore[arg-type]
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(httpx.Request("GET", "https://v.test/x"))


async def test_a_record_nobody_claims_is_skipped_and_counted() -> None:
    records = [
        (0, "open", "c#1", "", None),
        (0, "http", "GET https://v.test/never", "{}", 200),
        (0, "recv", "c#1", "after", None),
    ]
    player = TapePlayer(records, stall_s=0.05)
    with anyio.fail_after(5):
        ws = await player.connect("c#1", "", None, {}, None)  # type: ignore[arg-type]
        assert await ws.recv() == "after"
    assert player.skipped == 1


async def test_a_responder_answers_sends_before_the_tape_goes_on() -> None:
    records = [(0, "open", "c#1", "", None), (0, "recv", "c#1", "data", None)]
    player = TapePlayer(records, hold_at=1, responder=lambda conn, text: [f"ack {text} on {conn}"])
    with anyio.fail_after(5):
        ws = await player.connect("c#1", "", None, {}, None)  # type: ignore[arg-type]
        await player.held.wait()
        await ws.send("sub")
        assert await ws.recv() == "ack sub on c#1"
        player.release()
        assert await ws.recv() == "data"
