"""Structured logging: JSON or console lines carrying trace_id / decision_id, never secrets.

Use :func:`get_logger` (or a context's ``log``) and log an event name with fields::

    log = get_logger("tradegw.orders", consumer="mm1")
    log.info("order.submitted", client_order_id="c1", qty=Decimal("0.5"))

``trace_id`` / ``decision_id`` come from the fields, the bound context or the current
:func:`log_context`. Values of keys that look secret (``token``, ``secret``, ``password``,
``api_key``...) and any ``SecretStr`` are written as ``***``, and so is whatever follows a
secret-looking name in a message or traceback text (``signature=...``, ``"apiKey": ...``,
``Bearer ...``: a signed URL in an httpx error is logged without its signature).
:func:`configure_logging` is called once by the CLI with the level and format from config;
it also keeps httpx's per-request INFO lines (signed URLs) out, at WARNING.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pydantic import SecretBytes, SecretStr

__all__ = [
    "DECISION_ID",
    "REDACTED",
    "TRACE_ID",
    "ConsoleFormatter",
    "JsonFormatter",
    "StructLogger",
    "configure_logging",
    "get_logger",
    "log_context",
    "mask_secrets",
    "redact",
]

TRACE_ID: ContextVar[str] = ContextVar("tradegw_trace_id", default="")
DECISION_ID: ContextVar[str] = ContextVar("tradegw_decision_id", default="")
REDACTED = "***"
_SECRET_WORDS = ("secret", "token", "password", "passphrase", "private_key", "api_key", "apikey")
_FIELDS_ATTR = "tradegw_fields"
_HANDLER_MARK = "_tradegw_handler"


_SECRET_TEXT = re.compile(
    r"(?i)((?:signature|sig|secret|token|password|passphrase|api[-_]?key|listen[-_]?key|"
    r"authorization|jwt)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?|\bbearer\s+)([^\"'&,\s}]+)"
)
_QUIET_LOGGERS = ("httpx", "httpcore")


def mask_secrets(text: str) -> str:
    """``text`` with whatever follows a secret-looking name replaced by ``***``."""
    return _SECRET_TEXT.sub(r"\1***", text)


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``fields`` with secret-looking keys and Secret values masked (recursively)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if _is_secret_key(key) or isinstance(value, SecretStr | SecretBytes):
            out[key] = REDACTED
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


@contextmanager
def log_context(*, trace_id: str | None = None, decision_id: str | None = None) -> Iterator[None]:
    """Within the block (and tasks started from it), log lines carry these ids."""
    tokens = []
    if trace_id is not None:
        tokens.append((TRACE_ID, TRACE_ID.set(trace_id)))
    if decision_id is not None:
        tokens.append((DECISION_ID, DECISION_ID.set(decision_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    _FIELDS_ATTR,
}


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    # plain ``logger.info(msg, extra={...})`` fields too, so stdlib loggers render the same
    fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
    fields.update(getattr(record, _FIELDS_ATTR, None) or {})
    fields.setdefault("trace_id", TRACE_ID.get())
    fields.setdefault("decision_id", DECISION_ID.get())
    return redact({k: v for k, v in fields.items() if v not in ("", None)})


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON (non-JSON values via ``str``)."""
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "event": mask_secrets(record.getMessage()),
        }
        for key, value in _record_fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(doc, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``ts LEVEL logger event key=value ...`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one readable line (plus a traceback if any)."""
        pairs = " ".join(f"{k}={v}" for k, v in _record_fields(record).items())
        event = mask_secrets(record.getMessage())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name} {event}"
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{mask_secrets(self.formatException(record.exc_info))}"
        return line


class StructLogger:
    """A logger that carries bound context fields (consumer id, provider, ...)."""

    def __init__(self, logger: logging.Logger, context: Mapping[str, Any] | None = None) -> None:
        self.logger = logger
        self.context: dict[str, Any] = dict(context or {})

    def bind(self, **context: Any) -> StructLogger:
        """A logger with extra context fields."""
        return StructLogger(self.logger, {**self.context, **context})

    def log(self, level: int, event: str, /, **fields: Any) -> None:
        """Log ``event`` at ``level`` with ``fields`` (secrets masked by the formatter).

        ``extra={...}`` is accepted too and merged into the fields, so code written for a
        stdlib ``Logger`` / ``LoggerAdapter`` works unchanged with this logger.
        """
        if self.logger.isEnabledFor(level):
            exc_info = fields.pop("exc_info", None)
            extra_fields = fields.pop("extra", None) or {}
            extra = {_FIELDS_ATTR: {**self.context, **extra_fields, **fields}}
            self.logger.log(level, event, extra=extra, exc_info=exc_info, stacklevel=3)

    def debug(self, event: str, /, **fields: Any) -> None:
        """Log at DEBUG."""
        self.log(logging.DEBUG, event, **fields)

    def info(self, event: str, /, **fields: Any) -> None:
        """Log at INFO."""
        self.log(logging.INFO, event, **fields)

    def warning(self, event: str, /, **fields: Any) -> None:
        """Log at WARNING."""
        self.log(logging.WARNING, event, **fields)

    def error(self, event: str, /, **fields: Any) -> None:
        """Log at ERROR."""
        self.log(logging.ERROR, event, **fields)

    def exception(self, event: str, /, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self.log(logging.ERROR, event, exc_info=True, **fields)


def get_logger(name: str, /, **context: Any) -> StructLogger:
    """A structured logger for ``name`` with bound ``context`` fields."""
    return StructLogger(logging.getLogger(name), context)


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console"] = "console",
    *,
    stream: TextIO | None = None,
    logger_name: str | None = None,
) -> logging.Handler:
    """Install tradegw's handler on ``logger_name`` (the root logger by default).

    Replaces a handler installed by an earlier call, so calling it again reconfigures.
    """
    logger = logging.getLogger(logger_name)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    for name in _QUIET_LOGGERS:  # one INFO line per request, with the signed URL
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
