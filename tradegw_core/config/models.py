"""The one settings model: core sections plus a section per plugin (pydantic, frozen).

``Settings`` holds the core's sections. :func:`compose_settings_model` adds what plugins
registered through ``tradegw_register_settings`` (``"providers.binance"`` ->
``BinanceSettings`` becomes ``settings.providers.binance``), so one model validates the
whole configuration and ``tradegw config-schema`` can show all of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)

from tradegw_core.errors import ConfigError

__all__ = [
    "CORE_SECTIONS",
    "ApiSettings",
    "BookSettings",
    "BudgetSettings",
    "DispatcherSettings",
    "GatewaySettings",
    "LoggingSettings",
    "MergeSettings",
    "MetricsSettings",
    "OrdersSettings",
    "PluginsSettings",
    "Settings",
    "compose_settings_model",
    "is_loopback",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class PluginsSettings(BaseModel):
    """``[plugins]``: which installed plugins to load (by entry-point name)."""

    model_config = _FROZEN

    enabled: tuple[str, ...] = ()
    """Entry-point names of the plugins to load (see ``tradegw plugins``); others stay
    unimported."""


class GatewaySettings(BaseModel):
    """``[gateway]``: what to start."""

    model_config = _FROZEN

    providers: tuple[str, ...] = ()
    """Provider names to start (each must be registered by an enabled plugin)."""
    consumers: tuple[str, ...] = ()
    """Consumer names to start."""
    required_providers: tuple[str, ...] = ()
    """Providers whose failure stops the gateway (others are retried with backoff). Start-up
    waits for these (and only these) to run before it starts the consumers."""
    required_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long start-up waits for the required providers; then it stops with an error
    naming those not running yet."""


class LoggingSettings(BaseModel):
    """``[logging]``: level and output format."""

    model_config = _FROZEN

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Least severe level written (case-insensitive)."""
    format: Literal["json", "console"] = "console"
    """``json``: one JSON object per line (for log shippers); ``console``: readable lines."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class MetricsSettings(BaseModel):
    """``[metrics]``: the Prometheus exporter."""

    model_config = _FROZEN

    enabled: bool = True
    """Serve ``/metrics`` over HTTP."""
    host: str = "127.0.0.1"
    """Bind address of the exporter."""
    port: int = Field(default=9090, ge=0, le=65535)
    """Port of the exporter (0: any free port)."""


class BudgetSettings(BaseModel):
    """``[dispatcher.budgets.<consumer>]``: one consumer's token budget on each stream."""

    model_config = _FROZEN

    rate: int = Field(default=1_000, ge=0, le=1_000_000_000)
    """Market-data events per second on each stream (0: unlimited)."""
    burst: int = Field(default=100, gt=0, le=10_000_000)
    """Events at once before ``rate`` applies."""


class DispatcherSettings(BaseModel):
    """``[dispatcher]``: lanes, ordering, dedup and each consumer's fair share."""

    model_config = _FROZEN

    lane_size: int = Field(default=10_000, gt=0, le=10_000_000)
    """Market-data events each consumer's lane holds before its overflow policy applies."""
    overflow: Literal["dlq", "drop_oldest", "drop_newest"] = "dlq"
    """What a full lane does with one more event: park it in the bounded dead-letter queue,
    or drop the oldest / the newest. Execution reports never take this path."""
    lateness_ms: int = Field(default=150, ge=0, le=60_000)
    """How long an out-of-order event is held waiting for the gap before it is released."""
    flush_ms: int = Field(default=50, gt=0, le=10_000)
    """Tick of the flush that releases held events whose lateness expired."""
    dedup_window: int = Field(default=100_000, gt=0, le=10_000_000)
    """How many recent event ids are remembered to drop duplicates (e.g. A/B feeds)."""
    rate: int = Field(default=1_000, ge=0, le=1_000_000_000)
    """Market-data events per second each consumer may receive on each stream (a token
    bucket per consumer and stream; 0: unlimited). Beyond it Ticker, BookUpdate and
    KlineSummary are merged latest-wins and trades wait in the stream's backlog."""
    burst: int = Field(default=100, gt=0, le=10_000_000)
    """Events a consumer may receive on one stream at once before ``rate`` applies."""
    backlog_size: int = Field(default=1_000, gt=0, le=10_000_000)
    """Trades (and other queued types) one consumer's stream holds while it is out of
    tokens or its lane is full; beyond it the lane's ``overflow`` policy applies."""
    budgets: dict[str, BudgetSettings] = Field(default_factory=dict)
    """Per-consumer budgets overriding ``rate``/``burst``: ``[dispatcher.budgets.<consumer>]``
    with ``rate`` and ``burst``."""


class MergeSettings(BaseModel):
    """``[merge]``: windowed multi-venue merges (MergedSubscribe, design section 7)."""

    model_config = _FROZEN

    allowed_skew_ms: int = Field(default=1000, ge=0, le=60_000)
    """Grace for venue clocks and feeds that lag: a window of event time ``[open, end)``
    closes when the gateway clock passes ``end + allowed_skew_ms``; a fragment more than this
    ahead of the gateway clock is rejected."""
    max_merges: int = Field(default=64, ge=1, le=10_000)
    """Merges (distinct symbol and type) that may run at once."""
    max_open_windows: int = Field(default=8, ge=1, le=1000)
    """Open windows per merge; beyond it the oldest closes early (bounds memory)."""


class BookSettings(BaseModel):
    """``[book]``: periodic refresh and staleness of every provider's books.

    The diffs buffered while a book waits for its snapshot are bounded by each venue's
    assembler (drop the oldest), sized for that venue's feed; Kraken keeps none.
    """

    model_config = _FROZEN

    refresh_min_s: float = Field(default=120.0, gt=0, le=86_400)
    """Earliest periodic refresh (reconcile against a fresh snapshot) after a sync."""
    refresh_max_s: float = Field(default=300.0, gt=0, le=86_400)
    """Latest periodic refresh; the time is jittered between min and max."""
    stale_after_s: float = Field(default=300.0, gt=0, le=86_400)
    """A book with no update for this long is declared stale and resynced."""

    @model_validator(mode="after")
    def _refresh_range(self) -> BookSettings:
        if self.refresh_min_s > self.refresh_max_s:
            raise ValueError(
                f"refresh_min_s ({self.refresh_min_s}) must not exceed "
                f"refresh_max_s ({self.refresh_max_s})"
            )
        return self


class OrdersSettings(BaseModel):
    """``[orders]``: journal, dedup and pre-trade risk."""

    model_config = _FROZEN

    journal_path: str = "tradegw-journal.sqlite3"
    """SQLite file journaling every order and report (relative to the working directory)."""
    dedup_retention_s: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    """How long a used ``client_order_id`` is remembered (a reuse answers DUPLICATE)."""
    risk_checks: tuple[str, ...] = ("max_notional", "max_open_orders", "price_band")
    """Pre-trade checks to run, in order (built-in or registered by a plugin)."""
    max_notional: Decimal | None = Field(default=None, gt=0)
    """Largest ``qty * price`` of one order, in the quote currency; unset: no limit."""
    max_open_orders: int = Field(default=50, ge=0, le=100_000)
    """Open orders allowed per consumer."""
    price_band_pct: Decimal = Field(default=Decimal(5), gt=0, le=100)
    """A limit price further than this percentage from the last trade is refused."""
    submit_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """A submission unanswered this long becomes UNKNOWN and is resolved by query."""
    trading_enabled_on_start: bool = True
    """The global kill switch at start-up (each consumer's own switch starts on); false holds
    every order until SetTradingMode with consumer_id null turns it on."""
    query_attempts: int = Field(default=5, ge=1, le=100)
    """Venue queries for an order of unknown outcome before it is left for the next start."""
    report_buffer: int = Field(default=65_536, ge=1, le=10_000_000)
    """Execution reports queued for journaling before the backlog is reported (never dropped)."""
    reconcile_wait_s: float = Field(default=15.0, ge=0, le=3600)
    """How long start-up waits for a required provider's open orders to be reconciled before
    going on; until a venue's reconciliation is done (at start and after every restart of
    its order adapter), submissions to it are refused as retryable, nothing is sent."""


class ApiSettings(BaseModel):
    """``[api]``: the HTTP control API (off by default; needs a token when on)."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    enabled: bool = False
    """Serve the HTTP control API: the control bus and a status page (docs/operations.md)."""
    host: str = "127.0.0.1"
    """Bind address of the control API."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port of the control API."""
    token: SecretStr | None = None
    """Bearer token the control API requires (``Authorization: Bearer <token>``); never
    empty. One shorter than 32 characters is accepted with a warning at start."""
    tls_certfile: str | None = None
    """PEM certificate (chain) to serve HTTPS with; unset: plain HTTP."""
    tls_keyfile: str | None = None
    """PEM private key of ``tls_certfile`` (unset: the key is in the certificate file)."""
    allow_insecure_bind: bool = False
    """Allow a non-loopback ``host`` without ``tls_certfile`` (the token then crosses the
    network in clear text; a warning is logged at start). Off: such a ``host`` is refused."""
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """A connection that sends no complete request headers this long after connecting (or
    after its previous answer) is closed; a body not received in this time is answered 408."""
    idle_timeout_s: int = Field(default=5, ge=1, le=300)
    """An idle keep-alive connection is closed after this many seconds."""

    @field_validator("token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (leave it unset, or set a long random token)")
        return value

    @model_validator(mode="after")
    def _token_when_enabled(self) -> ApiSettings:
        if self.enabled and self.token is None:
            raise ValueError("token is required when enabled = true")
        for key in ("tls_certfile", "tls_keyfile"):
            path = getattr(self, key)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{key} {path!r} is not a readable file")
        if self.tls_keyfile is not None and self.tls_certfile is None:
            raise ValueError("tls_keyfile needs tls_certfile")
        if (
            self.enabled
            and not is_loopback(self.host)
            and self.tls_certfile is None
            and not self.allow_insecure_bind
        ):
            raise ValueError(
                f"host {self.host!r} is not a loopback address and the API would speak plain "
                "HTTP (the token in clear text): set tls_certfile (and tls_keyfile), bind "
                "127.0.0.1 behind a TLS proxy, or set allow_insecure_bind = true"
            )
        return self


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


class _Group(BaseModel):
    """A section whose keys are plugin names (``[providers]``, ``[consumers]``)."""

    model_config = _FROZEN


class Settings(BaseModel):
    """The validated configuration of one gateway (immutable)."""

    model_config = _FROZEN

    plugins: PluginsSettings = PluginsSettings()
    gateway: GatewaySettings = GatewaySettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    dispatcher: DispatcherSettings = DispatcherSettings()
    merge: MergeSettings = MergeSettings()
    book: BookSettings = BookSettings()
    orders: OrdersSettings = OrdersSettings()
    api: ApiSettings = ApiSettings()
    providers: _Group = _Group()
    consumers: _Group = _Group()

    def section(self, key: str) -> Any:
        """A section by dotted key, e.g. ``"providers.binance"``; None when unset."""
        node: Any = self
        for part in key.split("."):
            node = getattr(node, part.replace("-", "_"), None)
            if node is None:
                return None
        return node


CORE_SECTIONS = frozenset(
    {"plugins", "gateway", "logging", "metrics", "dispatcher", "merge", "book", "orders", "api"}
)
"""Top-level sections no plugin may add to."""


def _field_for(model: type[BaseModel], alias: str) -> tuple[Any, Any]:
    try:
        model()
    except Exception:
        # required fields: the section stays absent (None) until configured
        return (model | None, Field(default=None, alias=alias))
    return (model, Field(default_factory=model, alias=alias))


def _field_name(name: str) -> str:
    field = name.replace("-", "_")
    if not field.isidentifier() or field.startswith("_"):
        raise ConfigError(f"settings section name {name!r} is not a valid key")
    return field


def compose_settings_model(sections: Iterable[tuple[str, Any]]) -> type[Settings]:
    """Build the settings model from ``(dotted key, pydantic model)`` pairs.

    Keys are ``group.name`` (``providers.binance``, ``consumers.printer``, or a new group)
    or a single new top-level name. A plugin section with required fields defaults to
    None; every other section defaults to its model's defaults.
    """
    groups: dict[str, dict[str, tuple[Any, Any]]] = {"providers": {}, "consumers": {}}
    top: dict[str, tuple[Any, Any]] = {}
    for key, model in sections:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"settings section {key!r} is not a pydantic model: {model!r}")
        parts = key.split(".")
        if len(parts) > 2 or not all(parts):
            raise ConfigError(f"settings section {key!r}: use 'group.name' or 'name'")
        if parts[0] in CORE_SECTIONS:
            raise ConfigError(f"settings section {key!r}: [{parts[0]}] belongs to the core")
        if len(parts) == 1:
            if parts[0] in groups:
                raise ConfigError(f"settings section {key!r}: name a plugin, e.g. {key}.NAME")
            top[_field_name(parts[0])] = _field_for(model, parts[0])
        else:
            groups.setdefault(parts[0], {})[_field_name(parts[1])] = _field_for(model, parts[1])
    fields: dict[str, Any] = dict(top)
    for group, members in groups.items():
        name = _field_name(group)
        if name in fields:
            raise ConfigError(f"settings section {group!r} is registered twice")
        sub = create_model(  # type: ignore[call-overload]
            f"{group.title().replace('-', '').replace('_', '')}Settings",
            __base__=_Group,
            **members,
        )
        fields[name] = (sub, Field(default_factory=sub, alias=group))
    composed: type[Settings] = create_model("TradegwSettings", __base__=Settings, **fields)
    return composed
