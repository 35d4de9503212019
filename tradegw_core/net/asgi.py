"""A minimal ASGI router, served by uvicorn inside an anyio task group.

Used by the venue emulators (:mod:`tradegw_core.sim.http` adds fault injection on top) and
by the HTTP control API (:mod:`tradegw_core.api`). Why not Starlette: both need method +
path routing with ``{name}`` segments, the raw query string and body (emulators compute
signatures over them byte for byte), and nothing else; that is ~150 lines, with no new
dependency.

:func:`serve_asgi` binds the socket itself and starts uvicorn with
``Server.startup(sockets=[...])``: the bound port is known at once (port 0 works) and
uvicorn never installs signal handlers (the gateway owns those).

Slow or half-open clients cannot hold connections: a connection must deliver a request's
headers within ``header_timeout_s`` of connecting (or of its previous answer), its body
within ``body_timeout_s`` (else 408), and an idle keep-alive connection is closed after
``idle_timeout_s``. Accepted sockets have Nagle off (``TCP_NODELAY``), so a keep-alive
answer written as headers then body is not held back by the client's delayed ACK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.abc
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "Receive",
    "Route",
    "Router",
    "Scope",
    "Send",
    "listen_socket",
    "read_request",
    "send_response",
    "serve_asgi",
]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as a handler sees it (header names lower case)."""

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
        """The body parsed as JSON (numbers with a fraction become Decimal).

        ValueError when it is not JSON, including JSON nested too deep to parse.
        """
        try:
            return json.loads(self.body or b"null", parse_float=Decimal)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None


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


async def read_request(scope: Scope, receive: Receive, *, max_body: int) -> HttpRequest | None:
    """Read one HTTP request; None when its body goes over ``max_body`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    headers: dict[str, str] = {}
    for k, v in scope["headers"]:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return HttpRequest(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=b"".join(chunks),
        client=tuple(scope["client"]) if scope.get("client") else None,
    )


async def send_response(send: Send, response: HttpResponse) -> None:
    """Write ``response`` (with its content-length) to the ASGI ``send`` channel."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class Router:
    """An ASGI app dispatching each request to the first route matching its path and method.

    ``label`` names the server in logs and 500 answers; ``max_body`` bounds what one
    request may send (a larger body is answered 413 without being read further);
    ``fallback`` answers a request no route takes (when it returns None: the generic
    404 / 405).
    """

    label = "handler"

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        max_body: int = 1 << 20,
        fallback: Callable[[HttpRequest], HttpResponse | None] | None = None,
        body_timeout_s: float = 10.0,
    ) -> None:
        self.routes = list(routes)
        self.max_body = max_body
        self.fallback = fallback
        self.body_timeout_s = body_timeout_s
        self.requests = 0

    def close(self) -> None:
        """Release whatever requests are held when the server stops (nothing here)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (HTTP only; lifespan is off)."""
        if scope["type"] != "http":  # pragma: no cover - uvicorn runs with lifespan off
            return
        self.requests += 1
        request: HttpRequest | None = None
        with anyio.move_on_after(self.body_timeout_s) as slow:
            request = await read_request(scope, receive, max_body=self.max_body)
        if slow.cancelled_caught:
            await send_response(send, _TOO_SLOW)
            return
        if request is None:
            await send_response(send, self.too_large())
            return
        await send_response(send, await self.dispatch(request))

    def too_large(self) -> HttpResponse:
        """The 413 answer to a body over ``max_body``."""
        return HttpResponse.json({"error": f"request body over {self.max_body} bytes"}, 413)

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
                log.exception("%s %s %s failed", self.label, request.method, request.path)
                return HttpResponse.json({"error": f"{self.label} failed: {exc}"}, 500)
        answer = self.fallback(request) if self.fallback is not None else None
        if answer is not None:
            return answer
        if allowed:
            return HttpResponse.json({"error": "method not allowed"}, 405)
        return HttpResponse.json({"error": f"no route for {request.path}"}, 404)


_TOO_SLOW = HttpResponse(
    408, b'{"error":"request body not received in time"}', (("connection", "close"),)
)


class _GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request's headers are in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._overdue)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _overdue(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # connected (or answered) and no request since


def listen_socket(host: str, port: int) -> socket.socket:
    """A non-blocking TCP socket listening on (host, port); OSError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only on accepted
    # sockets whose proto says TCP. With proto 0 every keep-alive answer (headers, then
    # body: two writes) waited for the client's delayed ACK, ~40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # asyncio's create_server listens again with uvicorn's backlog
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_asgi(
    app: Router,
    host: str,
    port: int,
    *,
    header_timeout_s: float = 10.0,
    idle_timeout_s: float = 5.0,
    tls_certfile: str | None = None,
    tls_keyfile: str | None = None,
    sock: socket.socket | None = None,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on (host, port) until cancelled; reports the bound port via task_status.

    An IPv6 ``host`` (one with a ``:``) binds an IPv6 socket. With ``tls_certfile`` (PEM,
    with ``tls_keyfile`` unless the key is in the same file) it speaks HTTPS. Timeouts: see
    the module docstring. ``sock`` (from :func:`listen_socket`) is served instead of a new
    socket on (host, port). ``app.close()`` is called when serving stops, then every open
    connection is closed.
    """
    sock = listen_socket(host, port) if sock is None else sock
    protocol = type("GuardedH11", (_GuardedH11,), {"header_timeout_s": header_timeout_s})
    config = uvicorn.Config(
        app,
        http=protocol,
        timeout_keep_alive=max(1, round(idle_timeout_s)),
        ssl_certfile=tls_certfile,
        ssl_keyfile=tls_keyfile,
        proxy_headers=False,  # X-Forwarded-For from anyone is no client address
        log_config=None,
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
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
