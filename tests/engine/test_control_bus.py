"""The control bus: request -> Ack, malformed input refused before the server sees it."""

from __future__ import annotations

import anyio
import pytest

from tradegw_core.bus.control import AnyControl, ControlBus, parse_control_input
from tradegw_core.schema.control import Ack, Subscribe

SUB = {
    "kind": "subscribe",
    "request_id": "r1",
    "consumer_id": "c1",
    "providers": ["fake"],
    "symbols": ["BTC-USDT"],
    "types": ["Trade"],
}


@pytest.mark.anyio
async def test_request_gets_the_servers_ack() -> None:
    bus = ControlBus(timeout=1)
    seen: list[AnyControl] = []

    async def handler(msg: AnyControl, deadline: float) -> Ack:
        seen.append(msg)
        return Ack(request_id=msg.request_id, ok=True, routing_version=7)

    async with anyio.create_task_group() as tg:
        await tg.start(bus.serve, handler)
        ack = await bus.request(SUB)
        ack_json = await bus.request(Subscribe.model_validate(SUB).model_dump_json())
        tg.cancel_scope.cancel()
    assert ack == Ack(request_id="r1", ok=True, routing_version=7)
    assert ack_json.ok
    assert [type(m) for m in seen] == [Subscribe, Subscribe]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "malformed control message"),
        ({**SUB, "kind": "explode"}, "malformed control message"),
        ({**SUB, "types": ["Nonsense"]}, "types.0"),
        ({**SUB, "providers": []}, "providers"),
        (42, "expected JSON or a mapping, got int"),
    ],
)
def test_malformed_input_becomes_an_error_ack(raw: object, expected: str) -> None:
    ack = parse_control_input(raw)
    assert isinstance(ack, Ack)
    assert not ack.ok
    assert expected in ack.error


def test_a_malformed_message_keeps_its_request_id() -> None:
    ack = parse_control_input('{"request_id": "abc", "kind": "subscribe"}')
    assert isinstance(ack, Ack)
    assert ack.request_id == "abc"


@pytest.mark.anyio
async def test_no_server_means_a_timeout_ack_and_a_raising_handler_an_error_ack() -> None:
    bus = ControlBus(size=1, timeout=0.05)
    with anyio.fail_after(1):
        ack = await bus.request(SUB)
    assert not ack.ok
    assert "no answer within 0.05 s" in ack.error
    bus.close()

    async def broken(msg: AnyControl, deadline: float) -> Ack:
        raise RuntimeError("boom")

    bus = ControlBus(timeout=1)
    async with anyio.create_task_group() as tg:
        await tg.start(bus.serve, broken)
        ack = await bus.request(SUB)
        tg.cancel_scope.cancel()
    assert ack.error == "RuntimeError: boom"
    closed = await bus.request(SUB)
    assert closed.error == "the gateway is not running"
    with pytest.raises(ValueError, match="control bus"):
        ControlBus(size=0)
