"""The one error tree of tradegw.

Every error the core or a plugin raises on purpose derives from :class:`TradegwError`.
Foreign errors (httpx, websockets, sqlite3, a venue's JSON) are translated at the boundary
with ``raise ... from exc`` so callers only ever catch these::

    TradegwError
    ├── ConfigError                 bad settings: names the key, the value and why
    ├── PluginError                 discovery / registration failures
    │   └── PluginLoadError         start-up stopped: lists every failing plugin at once
    ├── RegistryError               duplicate key, unknown key, registry frozen
    ├── SchemaError                 a message that does not fit the canonical schema
    ├── ControlError                a bad control message (unknown provider, symbol, type)
    ├── ProviderFailedError         a provider listed as required failed: the gateway stops
    ├── VenueError                  anything a venue said or did wrong (``retryable`` flag)
    │   ├── VenueConnectionError    connect / read failed; retryable
    │   ├── StaleFeedError          no message before the deadline; retryable
    │   ├── RateLimitedError        HTTP 429 or a venue's rate-limit code; ``retry_after``
    │   ├── VenueBannedError        HTTP 418 / IP ban; ``retry_after``
    │   ├── AuthenticationError     bad key or signature; not retryable
    │   ├── VenueRejectedError      the venue refused a request; ``code``, not retryable
    │   ├── OrderOutcomeUnknownError  a submission whose result is unknown: query, never resend
    │   └── OrderNotSentError       (a VenueConnectionError) the request never left: retryable
    └── OrderError                  the local order path refused an order (``reason``)
        ├── OrderValidationError    missing field, bad step, unknown symbol, min notional...
        ├── DuplicateOrderError     client_order_id already used
        ├── RiskCheckError          a pre-trade risk check said no
        └── TradingDisabledError    the trading switch is off
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ControlError",
    "DuplicateOrderError",
    "JournalError",
    "OrderError",
    "OrderNotSentError",
    "OrderOutcomeUnknownError",
    "OrderValidationError",
    "PluginError",
    "PluginLoadError",
    "ProviderFailedError",
    "RateLimitedError",
    "RegistryError",
    "RejectedFrameError",
    "RiskCheckError",
    "SchemaError",
    "StaleFeedError",
    "TradegwError",
    "TradingDisabledError",
    "VenueBannedError",
    "VenueConnectionError",
    "VenueError",
    "VenueRejectedError",
]


class TradegwError(Exception):
    """Base of every error tradegw raises on purpose."""


class ConfigError(TradegwError):
    """Settings failed validation; the message names the key, the value and why."""


class PluginError(TradegwError):
    """A plugin could not be discovered, loaded or registered."""


class PluginLoadError(PluginError):
    """Start-up stopped because one or more enabled plugins failed.

    ``failures`` holds one line per failing plugin, each saying what to do.
    """

    def __init__(self, failures: list[str]) -> None:
        self.failures = list(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(f"{len(self.failures)} plugin problem(s) stopped start-up:\n{lines}")


class RegistryError(TradegwError):
    """A registry refused an operation (duplicate or unknown key, or it is frozen)."""


class SchemaError(TradegwError):
    """A message does not fit the canonical schema or a venue's wire format."""


class RejectedFrameError(TradegwError):
    """A venue frame, or a value in it, that must not be used (never kept nor emitted).

    ``reason`` is the short token a provider passes to ``ctx.reject_frame`` (``value``,
    ``crossed``, ``decode``, ``too_deep``, ``unknown_symbol``...): the frame is counted
    and dropped, and a book it was meant for resyncs.
    """

    def __init__(self, detail: str, *, reason: str = "value") -> None:
        super().__init__(detail)
        self.reason = reason


class ControlError(TradegwError):
    """A control message was refused: unknown provider, symbol or type, or malformed."""


class JournalError(TradegwError):
    """The order journal cannot be opened, is corrupt, or went away while running."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class ProviderFailedError(TradegwError):
    """A provider listed in ``gateway.required_providers`` failed; the gateway stops.

    Providers not listed there are restarted with backoff and reported instead.
    """

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider


class VenueError(TradegwError):
    """A venue refused, failed or misbehaved.

    ``retryable`` tells reconnect and retry loops whether trying again can help, so they
    never need ``if venue == ...``.
    """

    retryable: bool = False

    def __init__(self, message: str, *, venue: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.venue = venue
        if retryable is not None:
            self.retryable = retryable


class VenueConnectionError(VenueError):
    """A connection could not be opened or broke; trying again may help."""

    retryable = True


class StaleFeedError(VenueError):
    """No message arrived before the stream's deadline."""

    retryable = True


class RateLimitedError(VenueError):
    """The venue rate-limited us (HTTP 429 or its own code); wait ``retry_after`` seconds."""

    retryable = True

    def __init__(self, message: str, *, venue: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, venue=venue)
        self.retry_after = retry_after


class VenueBannedError(RateLimitedError):
    """The venue banned this client for a while (HTTP 418); wait ``retry_after`` seconds."""


class AuthenticationError(VenueError):
    """The venue refused our credentials or signature."""


class VenueRejectedError(VenueError):
    """The venue refused a request; ``code`` is the venue's own error code."""

    def __init__(self, message: str, *, venue: str = "", code: str | int | None = None) -> None:
        super().__init__(message, venue=venue)
        self.code = code


class OrderOutcomeUnknownError(VenueError):
    """A submission may or may not have reached the venue: resolve by query, never resend."""

    retryable = False


class OrderNotSentError(VenueConnectionError):
    """A request that certainly never reached the venue (no connection, client closed).

    For a submission this is a definite rejection the consumer may retry, never an unknown
    outcome.
    """


class OrderError(TradegwError):
    """The local order path refused an order; ``reason`` is a short machine-readable word."""

    reason: str = "rejected"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class OrderValidationError(OrderError):
    """An order request is invalid (missing field, bad step, unknown symbol...)."""

    reason = "invalid"


class DuplicateOrderError(OrderError):
    """The client_order_id was used already."""

    reason = "duplicate"


class RiskCheckError(OrderError):
    """A pre-trade risk check refused the order."""

    reason = "risk"


class TradingDisabledError(OrderError):
    """The consumer's trading switch or the global kill switch is off."""

    reason = "trading_disabled"
