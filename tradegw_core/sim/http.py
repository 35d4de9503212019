"""A minimal ASGI router for the emulators, served by uvicorn inside an anyio task group.

Why not Starlette: the emulators need method + path routing with ``{name}`` segments, the
raw query string and body (signatures are computed over them byte for byte) and a hook
for fault injection before and after the handler; that is ~150 lines, with no new
dependency. Uvicorn is started with ``Server.startup(sockets=[...])`` on a socket we bind
ourselves, so the port is known at once and uvicorn never installs signal handlers.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import anyio
import uvicorn

from tradegw_core.sim.faults import AcceptThenTimeout, FaultPlan, Slow, Status

__all__ = [
    "CONTROL_PREFIX",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "RouterApp",
    "serve_asgi",
]

CONTROL_PREFIX = "/__emulator__/"
"""Paths of the emulator control endpoint; HTTP faults never apply to them."""

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as a venue handler sees it (header names lower case)."""

    method: str
    path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_params: Mapping[str, str] = field(default_factory=dict)
    client: tuple[str, int] | None = None

    def query(self) -> dict[str, str]:
        """Query parameters (the last value wins for a repeated name)."""
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        text = self.body.decode()
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def json(self) -> Any:
        """The body parsed as JSON (numbers with a fraction become Decimal)."""
        return json.loads(self.body or b"null", parse_float=Decimal)


@dataclass(frozen=True)
class HttpResponse:
    """What a handler answers."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """A JSON answer; Decimal values are written as JSON strings."""
        body = json.dumps(obj, default=_default, separators=(",", ":")).encode()
        hdrs = (("content-type", "application/json"), *(headers or {}).items())
        return cls(status, body, hdrs)

    @classmethod
    def text(cls, text: str, status: int = 200) -> HttpResponse:
        """A plain text answer."""
        return cls(status, text.encode(), (("content-type", "text/plain"),))


def _default(obj: object) -> str:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass(frozen=True)
class Route:
    """``method`` + ``path`` -> ``handler``; ``{name}`` path segments fill ``path_params``."""

    method: str
    path: str
    handler: Handler

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` fits this route, else None."""
        want, got = self.path.strip("/").split("/"), path.strip("/").split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for w, g in zip(want, got, strict=True):
            if w.startswith("{") and w.endswith("}"):
                params[w[1:-1]] = g
            elif w != g:
                return None
        return params


class RouterApp:
    """An ASGI app dispatching to routes, with the fault plan applied per request."""

    def __init__(self, routes: Sequence[Route], faults: FaultPlan) -> None:
        self.routes = list(routes)
        self.faults = faults
        self.requests = 0
        self._closing = anyio.Event()

    def close(self) -> None:
        """Release requests held by :class:`AcceptThenTimeout`."""
        self._closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (HTTP only; lifespan is off)."""
        if scope["type"] != "http":  # pragma: no cover - uvicorn runs with lifespan off
            return
        self.requests += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        request = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            client=tuple(scope["client"]) if scope.get("client") else None,
        )
        control = request.path.startswith(CONTROL_PREFIX)
        action = None if control else self.faults.http_action(request)
        if isinstance(action, Status):
            response = _status_response(action)
        else:
            if isinstance(action, Slow):
                await anyio.sleep(action.seconds)
            response = await self.dispatch(request)
            if isinstance(action, AcceptThenTimeout):
                await self._hold(receive)
                return
        await _send(send, response)

    async def dispatch(self, request: HttpRequest) -> HttpResponse:
        """Run the matching route's handler (404 / 405 / 500 answered here)."""
        allowed = False
        for route in self.routes:
            params = route.match(request.path)
            if params is None:
                continue
            if route.method.upper() != request.method.upper():
                allowed = True
                continue
            req = HttpRequest(
                request.method,
                request.path,
                request.query_string,
                request.headers,
                request.body,
                params,
                request.client,
            )
            try:
                return await route.handler(req)
            except Exception as exc:
                log.exception("emulator handler %s %s failed", request.method, request.path)
                return HttpResponse.json({"error": f"emulator handler failed: {exc}"}, 500)
        if allowed:
            return HttpResponse.json({"error": "method not allowed"}, 405)
        return HttpResponse.json({"error": f"no route for {request.path}"}, 404)

    async def _hold(self, receive: Receive) -> None:
        """Withhold the answer until the client disconnects or the emulator stops."""
        async with anyio.create_task_group() as tg:

            async def until_closing() -> None:
                await self._closing.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(until_closing)
            while (await receive())["type"] != "http.disconnect":  # pragma: no cover
                pass
            tg.cancel_scope.cancel()


def _status_response(action: Status) -> HttpResponse:
    headers = {"retry-after": str(action.retry_after)} if action.retry_after is not None else {}
    body = action.body if action.body is not None else {"error": f"{action.status} injected"}
    return HttpResponse.json(body, action.status, headers)


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def serve_asgi(
    app: RouterApp,
    host: str,
    port: int,
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on (host, port) until cancelled; reports the bound port via task_status."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    config = uvicorn.Config(
        app, log_config=None, lifespan="off", access_log=False, log_level="warning"
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    try:
        task_status.started(sock.getsockname()[1])
        await anyio.sleep_forever()
    finally:
        app.close()
        for srv in server.servers:
            srv.close()
        for conn in list(server.server_state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.close()
        sock.close()
