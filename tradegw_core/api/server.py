"""The HTTP control API: the control bus and a status page over authenticated HTTP.

Routes (JSON in, JSON out)::

    GET  /healthz      no auth          {"status": "ok"}
    GET  /v1/status    bearer token     providers, consumers, routing, trading, open orders
    POST /v1/control   bearer token     a control message (as on the bus) -> its Ack
    POST /v1/trading   bearer token     {"consumer_id": "mm" | null, "enabled": bool}
                                        -> the Ack of the SetTradingMode it sends

Every ``/v1`` route needs ``Authorization: Bearer <token>``; the token is compared in
constant time and never logged or echoed. A missing or wrong one is answered 401. A
control message that does not validate is answered 400 with an error Ack (``ok: false``,
``error`` naming each bad field) and never reaches the bus; one the gateway refuses
(unknown consumer, provider, ...) is answered 422 with its error Ack; an applied one 200.

The server is the shared router of :mod:`tradegw_core.net.asgi` under uvicorn, bound only
where ``[api]`` says (loopback by default), and run as a task of the gateway's task group.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus

from tradegw_core.api.status import gateway_status
from tradegw_core.bus.control import parse_control_input
from tradegw_core.net.asgi import Handler, HttpRequest, HttpResponse, Route, Router, serve_asgi
from tradegw_core.schema.control import Ack

if TYPE_CHECKING:
    from tradegw_core.gateway import Gateway

__all__ = ["MAX_BODY", "ControlApi"]

MAX_BODY = 64 * 1024
"""The largest request body the API reads (a control message is a few hundred bytes)."""

_log = logging.getLogger("tradegw.api")

_UNAUTHORIZED = HttpResponse.json(
    {"error": "missing or invalid bearer token (send 'Authorization: Bearer <token>')"},
    401,
    {"www-authenticate": 'Bearer realm="tradegw"'},
)


def _ack_response(ack: Ack, status: int) -> HttpResponse:
    return HttpResponse.json(ack.model_dump(mode="json"), status)


def _format_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ControlApi:
    """The HTTP control API of one :class:`~tradegw_core.gateway.Gateway`.

    ``token`` is the bearer token clients must send. :meth:`serve` runs the server until
    cancelled; once it listens, :attr:`url` is its base URL (with the real port when
    ``port`` is 0).
    """

    def __init__(
        self,
        gateway: Gateway,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 8080,
        max_body: int = MAX_BODY,
    ) -> None:
        if not token:
            raise ValueError("the control API needs a non-empty token")
        self._gateway = gateway
        self._token = token.encode()
        self.host = host
        self.port = port
        self.url: str | None = None
        """Base URL, e.g. ``http://127.0.0.1:8080``, once serving (None before)."""
        self.router = Router(
            [
                Route("GET", "/healthz", self._healthz),
                Route("GET", "/v1/status", self._authed(self._status)),
                Route("POST", "/v1/control", self._authed(self._control)),
                Route("POST", "/v1/trading", self._authed(self._trading)),
            ],
            max_body=max_body,
        )
        self.router.label = "control API handler"

    @classmethod
    def from_settings(cls, gateway: Gateway, api: Any) -> ControlApi:
        """Build from the ``[api]`` settings section (``host``, ``port``, ``token``)."""
        if api.token is None:
            raise ValueError("[api] token is required when the control API is enabled")
        return cls(gateway, token=api.token.get_secret_value(), host=api.host, port=api.port)

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on (host, port) until cancelled; ``task_status`` gets the base URL."""
        async with anyio.create_task_group() as tg:
            port: int = await tg.start(serve_asgi, self.router, self.host, self.port)
            self.url = _format_url(self.host, port)
            _log.info("HTTP control API listening on %s", self.url)
            task_status.started(self.url)

    # -- auth --------------------------------------------------------------------------

    def authorized(self, headers: Mapping[str, str]) -> bool:
        """True when ``headers`` carry ``Authorization: Bearer <the token>``."""
        scheme, _, given = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    def _authed(self, handler: Handler) -> Handler:
        async def guarded(request: HttpRequest) -> HttpResponse:
            if not self.authorized(request.headers):
                peer = request.client[0] if request.client else "?"
                _log.warning(
                    "control API: unauthorized %s %s from %s", request.method, request.path, peer
                )
                return _UNAUTHORIZED
            return await handler(request)

        return guarded

    # -- handlers ----------------------------------------------------------------------

    async def _healthz(self, _: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"status": "ok"})

    async def _status(self, _: HttpRequest) -> HttpResponse:
        return HttpResponse.json(gateway_status(self._gateway))

    async def _control(self, request: HttpRequest) -> HttpResponse:
        return await self._send(request.body)

    async def _trading(self, request: HttpRequest) -> HttpResponse:
        try:
            body = request.json()
        except ValueError as exc:
            return self._malformed(f"body is not JSON ({exc})")
        if not isinstance(body, dict):
            return self._malformed('send a JSON object: {"consumer_id": ..., "enabled": ...}')
        if "kind" in body:
            return self._malformed("/v1/trading takes no 'kind'; it always sends SetTradingMode")
        return await self._send({**body, "kind": "set_trading_mode"})

    async def _send(self, raw: bytes | Mapping[str, Any]) -> HttpResponse:
        parsed = parse_control_input(raw)
        if isinstance(parsed, Ack):
            return _ack_response(parsed, 400)
        ack = await self._gateway.request(parsed)
        _log.info(
            "control API: %s %s -> ok=%s", parsed.kind, parsed.request_id, "yes" if ack.ok else "no"
        )
        return _ack_response(ack, 200 if ack.ok else 422)

    @staticmethod
    def _malformed(why: str) -> HttpResponse:
        return _ack_response(
            Ack(request_id="", ok=False, error=f"malformed control message: {why}"), 400
        )
