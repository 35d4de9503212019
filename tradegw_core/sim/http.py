"""The emulators' HTTP side: the shared ASGI router plus fault injection per request.

The router, request/response types and the uvicorn server live in
:mod:`tradegw_core.net.asgi` (the HTTP control API uses them too); this module adds what
only an emulator needs: the fault plan applied before and after each handler, and the
control endpoint under :data:`CONTROL_PREFIX`, which faults never touch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from tradegw_core.net.asgi import (
    Handler,
    HttpRequest,
    HttpResponse,
    Receive,
    Route,
    Router,
    Scope,
    Send,
    read_request,
    send_response,
    serve_asgi,
)
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


class RouterApp(Router):
    """An ASGI app dispatching to routes, with the fault plan applied per request."""

    label = "emulator handler"

    def __init__(
        self,
        routes: Sequence[Route],
        faults: FaultPlan,
        fallback: Callable[[HttpRequest], HttpResponse | None] | None = None,
    ) -> None:
        super().__init__(routes, fallback=fallback)
        self.faults = faults
        self._closing = anyio.Event()

    def close(self) -> None:
        """Release requests held by :class:`AcceptThenTimeout`."""
        self._closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (HTTP only; lifespan is off)."""
        if scope["type"] != "http":  # pragma: no cover - uvicorn runs with lifespan off
            return
        self.requests += 1
        request = await read_request(scope, receive, max_body=self.max_body)
        if request is None:
            await send_response(send, self.too_large())
            return
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
        await send_response(send, response)

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
