"""The HTTP control API end to end: a real Gateway, its API on a loopback port, httpx."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tradegw_core.api import ControlApi
from tradegw_core.config.models import ApiSettings
from tradegw_core.gateway import Gateway
from tradegw_core.schema.orders import OrderRequest, OrderStatus, Side
from tradegw_core.testing.recorders import RecordingConsumer

from .conftest import PROVIDER, TOKEN, StubVenue, build

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

Start = Callable[[], Any]


def order(cid: str) -> OrderRequest:
    """A limit buy from consumer ``mm`` on the stub venue."""
    return OrderRequest(
        client_order_id=cid,
        consumer_id="mm",
        provider=PROVIDER,
        symbol="BTC-USDT",
        side=Side.BUY,
        qty=Decimal("0.01"),
        price=Decimal("100"),
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "not-bearer", "longer", "empty"],
)
async def test_v1_routes_need_the_bearer_token(
    running: Start, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with running() as r:
        body = {"consumer_id": None, "enabled": False}
        with caplog.at_level(logging.DEBUG):
            answers = [
                await r.http.get("/v1/status", headers=headers),
                await r.http.post("/v1/trading", json=body, headers=headers),
                await r.http.post("/v1/control", content=b"{}", headers=headers),
            ]
        for resp in answers:
            assert resp.status_code == 401
            assert "bearer token" in resp.json()["error"]
            assert TOKEN not in resp.text
            assert resp.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in caplog.text
        # Nothing got through: the kill switch is still on and the consumer may trade.
        assert r.gw.orders.service.switch.global_enabled
        assert (await r.mm.ctx.submit_order(order("a1"))).status is OrderStatus.ACCEPTED


async def test_healthz_needs_no_token(running: Start) -> None:
    async with running() as r:
        resp = await r.http.get("/healthz")
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok"}


async def test_trading_switch_over_http_suppresses_then_resumes(running: Start) -> None:
    async with running() as r:
        off = await r.http.post(
            "/v1/trading", json={"consumer_id": "mm", "enabled": False}, headers=r.auth
        )
        assert off.status_code == 200
        assert off.json()["ok"] is True
        result = await r.mm.ctx.submit_order(order("o1"))
        assert result.status is OrderStatus.SUPPRESSED
        assert result.reason == "trading_disabled"
        assert r.venue.submitted == []  # nothing reached the venue

        on = await r.http.post(
            "/v1/trading", json={"consumer_id": "mm", "enabled": True}, headers=r.auth
        )
        assert on.status_code == 200
        assert on.json()["ok"] is True
        result = await r.mm.ctx.submit_order(order("o2"))
        assert result.status is OrderStatus.ACCEPTED, result
        assert [o.client_order_id for o in r.venue.submitted] == ["o2"]


async def test_global_kill_switch_through_the_control_route(running: Start) -> None:
    async with running() as r:
        msg = {"kind": "set_trading_mode", "request_id": "k1", "enabled": False}
        resp = await r.http.post("/v1/control", content=json.dumps(msg), headers=r.auth)
        assert resp.status_code == 200
        assert resp.json() == {
            "request_id": "k1",
            "ok": True,
            "error": "",
            "routing_version": None,
            "pending": {},
        }
        result = await r.mm.ctx.submit_order(order("k-1"))
        assert result.status is OrderStatus.SUPPRESSED
        assert "kill switch" in result.message
        status = (await r.http.get("/v1/status", headers=r.auth)).json()
        assert status["trading"]["global_enabled"] is False
        assert status["consumers"]["mm"]["trading_enabled"] is False


async def test_trading_for_an_unknown_consumer_is_refused(running: Start) -> None:
    async with running() as r:
        resp = await r.http.post(
            "/v1/trading", json={"consumer_id": "ghost", "enabled": False}, headers=r.auth
        )
        assert resp.status_code == 422
        ack = resp.json()
        assert ack["ok"] is False
        assert "unknown consumer 'ghost'" in ack["error"]


async def test_subscribe_via_http_applies_and_reports_the_routing_version(running: Start) -> None:
    async with running() as r:
        msg = {
            "kind": "subscribe",
            "consumer_id": "mm",
            "providers": [PROVIDER],
            "symbols": ["BTC-USDT"],
            "types": ["Trade"],
        }
        resp = await r.http.post("/v1/control", json=msg, headers=r.auth)
        assert resp.status_code == 200, resp.text
        assert resp.json()["ok"] is True
        assert resp.json()["routing_version"] == 1
        assert len(r.venue.subscribed) == 1
        status = (await r.http.get("/v1/status", headers=r.auth)).json()
        assert status["routing_version"] == 1
        assert status["consumers"]["mm"]["streams"] == 1


async def test_subscribe_to_an_unknown_provider_gets_an_error_ack(running: Start) -> None:
    async with running() as r:
        msg = {
            "kind": "subscribe",
            "request_id": "s1",
            "consumer_id": "mm",
            "providers": ["nope"],
            "symbols": ["BTC-USDT"],
            "types": ["Trade"],
        }
        resp = await r.http.post("/v1/control", json=msg, headers=r.auth)
        assert resp.status_code == 422
        ack = resp.json()
        assert ack["ok"] is False
        assert ack["request_id"] == "s1"
        assert "unknown provider 'nope'" in ack["error"]
        assert f"providers: {PROVIDER}" in ack["error"]
        assert r.gw.dispatcher.routing_version == 0  # nothing changed


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/v1/control", b"{not json", "json"),
        ("/v1/control", b"", "json"),
        ("/v1/control", b'{"kind": "launch_rockets"}', "kind"),
        ("/v1/control", b'{"kind": "set_trading_mode"}', "enabled"),
        ("/v1/control", b'{"kind": "set_trading_mode", "enabled": false, "x": 1}', "x"),
        ("/v1/trading", b"{not json", "not json"),
        ("/v1/trading", b"[true]", "json object"),
        ("/v1/trading", b'{"consumer_id": "mm"}', "enabled"),
        ("/v1/trading", b'{"kind": "subscribe", "enabled": true}', "kind"),
    ],
)
async def test_malformed_input_is_400_with_an_error_ack(
    running: Start, path: str, body: bytes, says: str
) -> None:
    async with running() as r:
        resp = await r.http.post(path, content=body, headers=r.auth)
        assert resp.status_code == 400
        ack = resp.json()
        assert ack["ok"] is False
        assert ack["error"].startswith("malformed control message")
        assert says in ack["error"].lower()
        assert r.gw.orders.service.switch.global_enabled  # nothing was applied


async def test_status_reports_providers_consumers_trading_and_open_orders(
    running: Start,
) -> None:
    async with running() as r:
        assert (await r.mm.ctx.submit_order(order("open-1"))).status is OrderStatus.ACCEPTED
        resp = await r.http.get("/v1/status", headers=r.auth)
        assert resp.status_code == 200
        status = resp.json()
        assert set(status) == {
            "routing_version",
            "providers",
            "order_adapters",
            "consumers",
            "trading",
            "open_orders",
            "merges",
        }
        assert status["routing_version"] == 0
        assert status["providers"] == {
            PROVIDER: {"state": "running", "required": False, "restarts": 0, "last_error": ""}
        }
        mm = status["consumers"]["mm"]
        assert mm["lane_depth"] == 0
        assert mm["dropped"] == 0
        assert mm["lane_size"] == r.gw.dispatcher.lane_size
        assert mm["trading_enabled"] is True
        assert mm["open_orders"] == 1
        assert status["open_orders"] == 1
        assert status["trading"] == {"configured": True, "global_enabled": True, "switches": {}}
        assert status["merges"] == {}


async def test_unknown_route_and_wrong_method(running: Start) -> None:
    async with running() as r:
        assert (await r.http.get("/v1/nothing", headers=r.auth)).status_code == 404
        assert (await r.http.get("/v1/control", headers=r.auth)).status_code == 405


async def test_oversized_body_is_refused(running: Start) -> None:
    async with running() as r:
        resp = await r.http.post("/v1/control", content=b"x" * (70 * 1024), headers=r.auth)
        assert resp.status_code == 413


async def test_api_is_off_unless_enabled(tmp_path: Path) -> None:
    venue, mm = StubVenue(), RecordingConsumer()
    settings, regs = build(tmp_path, venue, mm)
    settings = settings.model_copy(update={"api": ApiSettings()})
    async with Gateway(settings, regs) as gw:
        assert gw.api is None
        assert gw.api_url is None


async def test_control_api_refuses_to_run_without_a_token(tmp_path: Path) -> None:
    venue, mm = StubVenue(), RecordingConsumer()
    settings, regs = build(tmp_path, venue, mm)
    gw = Gateway(settings, regs)
    with pytest.raises(ValueError, match="non-empty token"):
        ControlApi(gw, token="")
    with pytest.raises(ValueError, match="token is required"):
        ControlApi.from_settings(gw, ApiSettings.model_construct(enabled=True, token=None))


async def test_ipv6_loopback_url_is_bracketed(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    venue, mm = StubVenue(), RecordingConsumer()
    settings, regs = build(tmp_path, venue, mm)
    gw = Gateway(settings, regs)
    api = ControlApi(gw, token=TOKEN, host="::1", port=0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            url = await tg.start(api.serve)
            assert url.startswith("http://[::1]:")
            assert url == api.url
            async with httpx.AsyncClient(base_url=url, timeout=5) as http:
                assert (await http.get("/healthz")).json() == {"status": "ok"}
            tg.cancel_scope.cancel()
