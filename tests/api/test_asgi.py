"""The shared ASGI router and server (``tradegw_core.net.asgi``) on a loopback port."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import httpx
import pytest

from tradegw_core.net.asgi import HttpRequest, HttpResponse, Route, Router, serve_asgi

pytestmark = pytest.mark.anyio


async def _price(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"symbol": request.path_params["symbol"], "px": Decimal("0.10")})


async def _hello(_: HttpRequest) -> HttpResponse:
    return HttpResponse.text("hello")


async def _broken(_: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


async def test_router_serves_params_decimals_text_and_500s(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Router(
        [
            Route("GET", "/px/{symbol}", _price),
            Route("GET", "/hello", _hello),
            Route("GET", "/broken", _broken),
        ]
    )
    app.label = "test handler"
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve_asgi, app, "127.0.0.1", 0)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                px = await http.get("/px/BTC-USDT")
                assert px.json() == {"symbol": "BTC-USDT", "px": "0.10"}  # Decimal as a string
                hello = await http.get("/hello")
                assert hello.text == "hello"
                assert hello.headers["content-type"] == "text/plain"
                with caplog.at_level(logging.ERROR, logger="tradegw_core.net.asgi"):
                    broken = await http.get("/broken")
                assert broken.status_code == 500
                assert broken.json() == {"error": "test handler failed: boom"}
                assert "test handler GET /broken failed" in caplog.text
            assert app.requests == 3
            tg.cancel_scope.cancel()


def test_json_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        HttpResponse.json({"x": object()})


async def test_a_port_in_use_fails_to_start() -> None:
    app = Router([])
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve_asgi, app, "127.0.0.1", 0)
            with pytest.raises(OSError, match="in use"):
                await tg.start(serve_asgi, Router([]), "127.0.0.1", port)
            tg.cancel_scope.cancel()
