"""The HTTP control API: the control bus and a status page over authenticated HTTP.

Routes (JSON in, JSON out)::

    GET  /healthz      no auth          {"status": "ok"}
    GET  /openapi.json no auth          this API's OpenAPI 3.1 description (api/openapi.py)
    GET  /v1/status    bearer token     providers, consumers, routing, trading, open orders
    POST /v1/control   bearer token     a control message (as on the bus) -> its Ack
    POST /v1/trading   bearer token     {"consumer_id": "mm" | null, "enabled": bool}
                                        -> the Ack of the SetTradingMode it sends

Every ``/v1`` route needs ``Authorization: Bearer <token>``; the token is compared in
constant time and never logged or echoed. A missing or wrong one is answered 401 (logged
at a bounded rate: 5 lines, then one per 10 s saying how many were not). A control message
that does not validate is answered 400 with an error Ack (``ok: false``, ``error`` naming
each bad field) and never reaches the bus. Validation is strict: no coercion (``"false"``
or ``0`` is not a boolean, ``5`` not a string), and JSON nested too deep is a 400 too.
One the gateway refuses (unknown consumer, provider, ...) is answered 422 with its error
Ack; an applied one 200. Bodies over ``MAX_BODY`` are answered 413 before authentication.

The server is the shared router of :mod:`tradegw_core.net.asgi` under uvicorn (header,
body and keep-alive timeouts; HTTPS with ``tls_certfile``), bound only where ``[api]``
says (loopback by default; a non-loopback host needs TLS or ``allow_insecure_bind``), and
run as a task of the gateway's task group. A token shorter than ``MIN_TOKEN`` characters,
or a plain-HTTP non-loopback bind, is warned about at start.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus
from pydantic_core import from_json

from tradegw_core.api.status import gateway_status
from tradegw_core.bus.control import parse_control_input
from tradegw_core.config.models import is_loopback
from tradegw_core.errors import ConfigError
from tradegw_core.net.asgi import (
    Handler,
    HttpRequest,
    HttpResponse,
    Route,
    Router,
    listen_socket,
    serve_asgi,
)
from tradegw_core.observability.rejects import LogLimiter
from tradegw_core.schema.control import Ack

if TYPE_CHECKING:
    from tradegw_core.gateway import Gateway

__all__ = ["MAX_BODY", "MIN_TOKEN", "ControlApi"]

MAX_BODY = 64 * 1024
"""The largest request body the API reads (a control message is a few hundred bytes)."""

MIN_TOKEN = 32
"""A shorter bearer token is accepted with a warning at start."""

_log = logging.getLogger("tradegw.api")

_UNAUTHORIZED = HttpResponse.json(
    {"error": "missing or invalid bearer token (send 'Authorization: Bearer <token>')"},
    401,
    {"www-authenticate": 'Bearer realm="tradegw"'},
)


def _ack_response(ack: Ack, status: int) -> HttpResponse:
    return HttpResponse.json(ack.model_dump(mode="json"), status)


def _format_url(host: str, port: int, *, tls: bool = False) -> str:
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


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
        tls_certfile: str | None = None,
        tls_keyfile: str | None = None,
        header_timeout_s: float = 10.0,
        idle_timeout_s: float = 5.0,
    ) -> None:
        if not token:
            raise ValueError("the control API needs a non-empty token")
        self._gateway = gateway
        self._token = token.encode()
        self.host = host
        self.port = port
        self._serve_options: dict[str, Any] = {
            "tls_certfile": tls_certfile,
            "tls_keyfile": tls_keyfile,
            "header_timeout_s": header_timeout_s,
            "idle_timeout_s": idle_timeout_s,
        }
        self._refused_log = LogLimiter(burst=5, interval_s=10.0)
        self.url: str | None = None
        """Base URL, e.g. ``http://127.0.0.1:8080``, once serving (None before)."""
        self.router = Router(
            [
                Route("GET", "/healthz", self._healthz),
                Route("GET", "/openapi.json", self._openapi),
                Route("GET", "/v1/status", self._authed(self._status)),
                Route("POST", "/v1/control", self._authed(self._control)),
                Route("POST", "/v1/trading", self._authed(self._trading)),
            ],
            max_body=max_body,
            body_timeout_s=header_timeout_s,
        )
        self.router.label = "control API handler"

    @classmethod
    def from_settings(cls, gateway: Gateway, api: Any) -> ControlApi:
        """Build from the ``[api]`` settings section (``host``, ``port``, ``token``, TLS...)."""
        if api.token is None:
            raise ValueError("[api] token is required when the control API is enabled")
        return cls(
            gateway,
            token=api.token.get_secret_value(),
            host=api.host,
            port=api.port,
            tls_certfile=api.tls_certfile,
            tls_keyfile=api.tls_keyfile,
            header_timeout_s=api.header_timeout_s,
            idle_timeout_s=api.idle_timeout_s,
        )

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on (host, port) until cancelled; ``task_status`` gets the base URL."""
        for warning in self.start_warnings():
            _log.warning("control API: %s", warning)
        tls = self._serve_options["tls_certfile"] is not None
        try:
            sock = listen_socket(self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                f"api.port: cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                "set [api] port to a free port, or enabled = false"
            ) from None
        serve = functools.partial(
            serve_asgi, self.router, self.host, self.port, sock=sock, **self._serve_options
        )
        async with anyio.create_task_group() as tg:
            port: int = await tg.start(serve)
            self.url = _format_url(self.host, port, tls=tls)
            _log.info("HTTP control API listening on %s", self.url)
            task_status.started(self.url)

    def start_warnings(self) -> list[str]:
        """What :meth:`serve` warns about: a short token, a plain-HTTP non-loopback bind."""
        warnings: list[str] = []
        if len(self._token) < MIN_TOKEN:
            warnings.append(
                f"the token is only {len(self._token)} characters long; use at least "
                f"{MIN_TOKEN} random characters ([api] token)"
            )
        if not is_loopback(self.host) and self._serve_options["tls_certfile"] is None:
            warnings.append(
                f"listening on {self.host} with plain HTTP: the token crosses the network in "
                "clear text ([api] allow_insecure_bind); prefer tls_certfile"
            )
        return warnings

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
                dropped = self._refused_log.allow()
                if dropped is not None:
                    peer = request.client[0] if request.client else "?"
                    more = f" ({dropped} more refused requests not logged)" if dropped else ""
                    _log.warning(
                        "control API: unauthorized %s %s from %s%s",
                        request.method,
                        request.path[:64],
                        peer,
                        more,
                    )
                return _UNAUTHORIZED
            return await handler(request)

        return guarded

    # -- handlers ----------------------------------------------------------------------

    async def _healthz(self, _: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"status": "ok"})

    async def _openapi(self, _: HttpRequest) -> HttpResponse:
        # Imported here so ``python -m tradegw_core.api.openapi`` runs it only once.
        from tradegw_core.api.openapi import openapi_document

        return HttpResponse.json(openapi_document())

    async def _status(self, _: HttpRequest) -> HttpResponse:
        return HttpResponse.json(gateway_status(self._gateway))

    async def _control(self, request: HttpRequest) -> HttpResponse:
        return await self._send(request.body)

    async def _trading(self, request: HttpRequest) -> HttpResponse:
        try:
            body = from_json(request.body or b"null")  # depth-bounded, unlike json.loads
        except ValueError as exc:
            return self._malformed(f"body is not JSON ({str(exc)[:120]})")
        if not isinstance(body, dict):
            return self._malformed('send a JSON object: {"consumer_id": ..., "enabled": ...}')
        if "kind" in body:
            return self._malformed("/v1/trading takes no 'kind'; it always sends SetTradingMode")
        return await self._send({**body, "kind": "set_trading_mode"})

    async def _send(self, raw: bytes | Mapping[str, Any]) -> HttpResponse:
        parsed = parse_control_input(raw, strict=True)
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
