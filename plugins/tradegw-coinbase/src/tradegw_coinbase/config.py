"""Settings section ``[providers.coinbase]`` (pydantic, validated once at start-up).

Defaults point at production (protocol notes section 1.1 and 3). Credentials are a CDP API
key: its name ``organizations/{org_id}/apiKeys/{key_id}`` and its private key (EC P-256 PEM
for ES256, or Ed25519 as PEM / base64 for EdDSA), kept as a ``SecretStr`` so it is never
printed or logged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["SETTINGS_SECTION", "CoinbaseSettings"]

SETTINGS_SECTION = "providers.coinbase"
"""Where these settings live in the one config model."""


class CoinbaseSettings(BaseModel):
    """Everything the Coinbase provider, order adapter and emulator read from config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ws_market_url: str = "wss://advanced-trade-ws.coinbase.com"
    """Market-data WebSocket (also carries ``user`` with a JWT, as fail-over)."""
    ws_user_url: str = "wss://advanced-trade-ws-user.coinbase.com"
    """User-order WebSocket: ``user`` and ``heartbeats``."""
    rest_url: str = "https://api.coinbase.com"
    """REST base; paths start with ``/api/v3/brokerage``."""
    api_key_name: str = ""
    """CDP key name, ``organizations/{org_id}/apiKeys/{key_id}``; empty = market data only."""
    api_private_key: SecretStr | None = None
    """CDP private key: ``BEGIN EC PRIVATE KEY`` PEM (ES256) or Ed25519 (EdDSA)."""
    symbols: list[str] = []
    """Canonical symbols (= product ids, e.g. ``BTC-USD``) to load; empty = every product."""
    connections_per_stream: int = Field(default=1, ge=1, le=4)
    """Redundant connections per stream (A/B arbitration downstream)."""
    subscribe_messages_per_second: float = Field(default=8.0, gt=0, le=8.0)
    """Client messages per second per connection (venue limit: 8 unauthenticated/s per IP)."""
    refresh_interval_s: float = Field(default=180.0, gt=0)
    """Least seconds between two REST product-book reconciles of one product (the core's
    book stage schedules the refreshes; earlier ones are skipped)."""
    product_book_limit: int = Field(default=50, ge=1, le=1000)
    """Levels per side fetched for reconciliation."""
    trade_side_is_maker: bool = True
    """``market_trades.side`` is the maker's side (documented); aggressor = opposite."""
    rest_requests_per_second: float = Field(default=10.0, gt=0)
    """Our own REST budget (the venue answers 429 beyond its limits; Retry-After honoured)."""
    order_lookback_s: float = Field(default=86_400.0, gt=0)
    """How far back an order search by client order id looks (no venue filter exists)."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """REST timeout; an order whose answer does not arrive in time has an unknown outcome."""
    jwt_ttl_s: int = Field(default=120, ge=10, le=120)
    """JWT lifetime (the venue accepts at most 2 minutes)."""
    ack_timeout_s: float = Field(default=10.0, gt=0)
    """How long a subscribe waits for its ``subscriptions`` ack."""
    heartbeat_timeout_s: float = Field(default=10.0, gt=0)
    """A connection with no frame for this long is stale and reconnected."""

    @field_validator("api_private_key", "api_key_name", mode="before")
    @classmethod
    def _numbers_to_str(cls, value: object) -> object:
        # dynaconf turns numeric-looking environment values into numbers (style.md).
        return str(value) if isinstance(value, int | float) else value

    @field_validator("symbols")
    @classmethod
    def _upper_symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if s != s.upper() or s.count("-") != 1]
        if bad:
            raise ValueError(f"symbols must be product ids like 'BTC-USD', got {bad}")
        return value

    @field_validator("rest_url", "ws_market_url", "ws_user_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def has_credentials(self) -> bool:
        """True when both the key name and the private key are set."""
        return bool(self.api_key_name) and self.api_private_key is not None
