"""Log lines an operator can follow (logger ``tradegw.ops``).

- each WebSocket connection connecting, dropping (and why) and going silent, from the
  telemetry events ``ws.connected`` / ``ws.reconnect`` / ``ws.stale``;
- each book resync (``book.resync``: provider, symbol, reason), at most 10 lines at once and
  then one a second per provider, saying how many were left out (a resync storm must not
  flood the log; ``tradegw_book_resyncs_total`` counts every one);
- each consumer starting and stopping (:func:`consumer_started`, :func:`consumer_stopped`);
- a one-line settings summary at start (:func:`settings_summary`), secrets masked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from tradegw_core.observability.logging import mask_secrets, redact
from tradegw_core.observability.rejects import LogLimiter

__all__ = ["OpsLog", "consumer_started", "consumer_stopped", "settings_summary"]

_log = logging.getLogger("tradegw.ops")


class OpsLog:
    """Turns the telemetry events above into log lines (the telemetry bus calls it)."""

    __slots__ = ("_limits", "_now_ns")

    def __init__(self, now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._limits: dict[str, LogLimiter] = {}
        self._now_ns = now_ns

    def on_event(self, name: str, labels: Mapping[str, str]) -> None:
        """Log ``name`` when an operator follows it; ignore the rest."""
        if name == "ws.connected":
            _log.info("%s: connected", labels.get("provider", "?"))
        elif name == "ws.reconnect":
            why = labels.get("reason", "?")
            _log.warning("%s: disconnected (%s); reconnecting", labels.get("provider", "?"), why)
        elif name == "ws.stale":
            _log.warning("%s: no frame within its stale limit", labels.get("provider", "?"))
        elif name == "book.resync":
            self._resync(labels)

    def _resync(self, labels: Mapping[str, str]) -> None:
        provider = labels.get("provider", "?")
        limit = self._limits.get(provider)
        if limit is None:
            if len(self._limits) >= 256:  # provider names come from config; stay bounded
                provider = "_other_"
            limit = self._limits.setdefault(
                provider, LogLimiter(burst=10, interval_s=1.0, now_ns=self._now_ns)
            )
        dropped = limit.allow()
        if dropped is None:
            return
        more = f" ({dropped} more resync lines left out)" if dropped else ""
        detail = labels.get("detail", "")
        _log.info(
            "%s %s: book resync (%s)%s%s",
            labels.get("provider", "?"),
            labels.get("symbol", "?"),
            labels.get("reason", "?"),
            f": {mask_secrets(detail)[:160]}" if detail else "",
            more,
        )


def consumer_started(name: str) -> None:
    """Log that consumer ``name`` started (its ``on_start`` returned)."""
    _log.info("consumer %s started", name)


def consumer_stopped(name: str) -> None:
    """Log that consumer ``name`` stopped (its task ended)."""
    _log.info("consumer %s stopped", name)


def _on(section: Any, *keys: str) -> str:
    if section is None or not getattr(section, "enabled", False):
        return "off"
    return ":".join(str(getattr(section, k)) for k in keys)


def settings_summary(settings: Any) -> str:
    """One line: providers, consumers, dispatcher, order path, API, metrics; no secret values."""
    gw = settings.gateway
    disp = settings.dispatcher
    orders = getattr(settings, "orders", None)
    api = getattr(settings, "api", None)
    fields: dict[str, Any] = {
        "providers": list(gw.providers),
        "required": list(gw.required_providers),
        "consumers": list(gw.consumers),
        "lane_size": disp.lane_size,
        "overflow": str(disp.overflow),
        "trading_enabled_on_start": getattr(orders, "trading_enabled_on_start", None),
        "journal": str(getattr(orders, "journal_path", "")),
        "api": _on(api, "host", "port"),
        "metrics": _on(getattr(settings, "metrics", None), "host", "port"),
    }
    token = getattr(api, "token", None)
    if token is not None:
        fields["api_token"] = token  # shown as *** (redact)
    shown = redact(fields)
    text = " ".join(f"{k}={v}" for k, v in shown.items())
    return mask_secrets(f"settings: {text}")
