"""The ``[providers.binance]`` settings section (pydantic, validated once at start-up).

Defaults point at Binance production; the emulator (and tests) override the base URLs.
Secrets are ``SecretStr`` so they never appear in logs or ``repr``; numeric-looking values
that dynaconf turns into ints are coerced back to strings.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["KLINE_INTERVALS", "SETTINGS_SECTION", "BinanceSettings"]

SETTINGS_SECTION = "providers.binance"
"""Where the section lives in the one config model."""

KLINE_INTERVALS = frozenset(
    [
        "1s",
        "1m",
        "3m",
        "5m",
        "15m",
        "30m",
        "1h",
        "2h",
        "4h",
        "6h",
        "8h",
        "12h",
        "1d",
        "3d",
        "1w",
        "1M",
    ]
)
"""Kline intervals the venue streams (binance.md section 1.4)."""

DepthLimit = Literal[5, 10, 20, 50, 100, 500, 1000, 5000]
"""REST ``/api/v3/depth`` limits (max 5000; weight grows with the limit)."""

_DAY_S = 24 * 3600.0


class BinanceSettings(BaseModel):
    """Settings of the Binance spot provider, order adapter and emulator clients."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    rest_url: str = "https://api.binance.com"
    """REST base URL (orders, exchangeInfo, depth snapshots)."""
    ws_url: str = "wss://stream.binance.com:9443/stream"
    """Combined-stream market-data endpoint; streams are subscribed on it at run time."""
    ws_api_url: str = "wss://ws-api.binance.com:443/ws-api/v3"
    """WebSocket API endpoint (user data stream via ``userDataStream.subscribe.signature``)."""

    api_key: SecretStr | None = None
    """API key sent as ``X-MBX-APIKEY`` / ``apiKey``."""
    api_secret: SecretStr | None = None
    """HMAC-SHA256 secret (for HMAC keys)."""
    ed25519_private_key: SecretStr | None = None
    """PEM (PKCS#8) Ed25519 private key (for Ed25519 keys); used instead of ``api_secret``."""

    symbols: tuple[str, ...] = ()
    """Canonical symbols to load at start-up (``BTC-USDT``); empty means all on demand."""
    depth: DepthLimit = 1000
    """Levels per side fetched for REST book snapshots."""
    update_speed: Literal["100ms", "1000ms"] = "100ms"
    """Diff-depth stream speed: ``<sym>@depth@100ms`` or ``<sym>@depth``."""
    connections_per_stream: Literal[1, 2] = 1
    """2 opens a second connection per stream for A/B arbitration (dedup downstream)."""
    refresh_interval_s: float = Field(default=60.0, gt=0)
    """Least time between two reconcile snapshots of one symbol. The core's ``[book]``
    refresh schedules the periodic reconcile; a refresh that comes sooner than this is
    skipped, which bounds the REST weight deep snapshots cost (limit 5000: weight 250)."""
    ticker_channel: Literal["bookTicker", "ticker"] = "bookTicker"
    """What backs the Ticker type: best bid/offer or the rolling 24 h ticker."""
    kline_interval: str = "1m"
    """Interval of the kline stream behind KlineSummary."""

    recv_window_ms: int = Field(default=5000, ge=1, le=60000)
    """``recvWindow`` of signed requests (venue default 5000, max 60000)."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """REST timeout; an order submission that times out has an unknown outcome."""
    max_streams_per_connection: int = Field(default=1024, ge=1, le=1024)
    """The venue allows 1024 streams per connection."""
    control_messages_per_second: float = Field(default=3.0, gt=0, lt=4)
    """Pace of SUBSCRIBE/UNSUBSCRIBE frames (at most 1 + this many in any second); the
    venue disconnects above 5 frames/s, pongs included."""
    connection_lifetime_s: float = Field(default=_DAY_S - 1800.0, gt=0, le=_DAY_S)
    """Roll a connection over (open new, resync, drop old) before the venue's 24 h cut."""

    @field_validator("symbols")
    @classmethod
    def _canonical_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in value if s.count("-") != 1 or s != s.upper() or s.startswith("-")]
        if bad:
            raise ValueError(
                f"symbols must be canonical BASE-QUOTE in upper case (e.g. BTC-USDT), got {bad}"
            )
        return value

    @field_validator("kline_interval")
    @classmethod
    def _known_interval(cls, value: str) -> str:
        if value not in KLINE_INTERVALS:
            raise ValueError(
                f"kline_interval {value!r} is not a Binance interval "
                f"(one of {' '.join(sorted(KLINE_INTERVALS))})"
            )
        return value

    @field_validator("rest_url", "ws_url", "ws_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_key_type(self) -> BinanceSettings:
        if self.api_secret is not None and self.ed25519_private_key is not None:
            raise ValueError(
                "set either api_secret (HMAC key) or ed25519_private_key, not both: "
                "one API key has one key type"
            )
        return self

    @property
    def can_trade(self) -> bool:
        """True when an API key and a way to sign are configured."""
        return self.api_key is not None and (
            self.api_secret is not None or self.ed25519_private_key is not None
        )

    @property
    def depth_stream_suffix(self) -> str:
        """The diff-depth stream suffix for the configured update speed."""
        return "depth@100ms" if self.update_speed == "100ms" else "depth"
