"""The ``[providers.kraken]`` settings section (pydantic: it comes from people)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tradegw_core.net.backoff import Backoff

__all__ = ["BOOK_DEPTHS", "OHLC_INTERVALS", "SECTION", "KrakenSettings", "reconnect_backoff"]

SECTION = "providers.kraken"
"""Where the section lives in the one config model."""

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
"""The only depths Kraken accepts on ``book``; any other is refused by the venue, not rounded."""

OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
"""Candle intervals (minutes) the ``ohlc`` channel offers."""

BookDepth = Literal[10, 25, 100, 500, 1000]
OhlcInterval = Literal[1, 5, 15, 30, 60, 240, 1440, 10080, 21600]


class KrakenSettings(BaseModel):
    """Validated settings of the Kraken provider and order adapter.

    URLs default to production; point them at the emulator for tests and demos.
    """

    # dynaconf turns numeric-looking env values into ints: secrets must still be strings.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    ws_public_url: str = "wss://ws.kraken.com/v2"
    """Public WebSocket v2 endpoint (market data)."""
    ws_auth_url: str = "wss://ws-auth.kraken.com/v2"
    """Authenticated WebSocket v2 endpoint (``executions``)."""
    rest_url: str = "https://api.kraken.com"
    """REST base URL (``/0/public/...``, ``/0/private/...``)."""
    api_key: SecretStr | None = None
    """API key (the ``API-Key`` header); needed only for orders and executions."""
    api_secret: SecretStr | None = None
    """Base64 private key used for ``API-Sign``."""
    symbols: tuple[str, ...] = ()
    """Canonical symbols (``BTC-USD``) to preload; empty means every pair the venue lists."""
    book_depth: BookDepth = 10
    """Subscribed ``book`` depth; the assembler keeps exactly this many levels per side."""
    connections_per_stream: int = Field(default=1, ge=1, le=4)
    """Redundant connections carrying the same subscriptions (A/B feed arbitration)."""
    refresh_interval_s: float = Field(default=3600.0, gt=0)
    """How often instruments (precisions, minimums) are reloaded from REST ``AssetPairs``."""
    ohlc_interval: OhlcInterval = 1
    """Minutes per candle on ``ohlc`` (KlineSummary)."""
    heartbeat_timeout_s: float = Field(default=10.0, gt=0)
    """A connection with no frame at all (not even a heartbeat) for this long is reconnected."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one REST request and of one WebSocket request/ack round trip."""
    reconnect_min_s: float = Field(default=5.0, ge=0)
    """Minimum pause before reconnecting (Kraken asks for >= 5 s after maintenance)."""

    @field_validator("symbols")
    @classmethod
    def _canonical(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for sym in value:
            parts = sym.split("-")
            if len(parts) != 2 or not all(parts) or sym != sym.upper():
                raise ValueError(f"{sym!r} is not a canonical symbol (expected e.g. BTC-USD)")
        return value

    def credentials(self) -> tuple[str, str] | None:
        """(key, secret) when both are set, else None."""
        if self.api_key is None or self.api_secret is None:
            return None
        return self.api_key.get_secret_value(), self.api_secret.get_secret_value()


def reconnect_backoff(settings: KrakenSettings) -> Backoff:
    """Reconnect pacing: never sooner than ``reconnect_min_s``, capped exponential above it."""
    return Backoff(
        base_s=0.5, cap_s=max(30.0, settings.reconnect_min_s), min_s=settings.reconnect_min_s
    )
