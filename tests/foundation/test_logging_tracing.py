"""Structured logs (JSON / console) with trace and decision ids, no secrets; tracing helper."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from tradegw_core.observability.logging import (
    configure_logging,
    get_logger,
    log_context,
    redact,
)
from tradegw_core.observability.tracing import current_trace_id, get_tracer, span


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream=buf, logger_name="tradegw.test")
    yield buf
    logging.getLogger("tradegw.test").removeHandler(handler)


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_carry_fields_and_context_ids(stream: io.StringIO) -> None:
    log = get_logger("tradegw.test", consumer="mm1")

    with log_context(trace_id="t-1", decision_id="d-9"):
        log.info("order.submitted", qty=Decimal("0.5"), client_order_id="c1")
    log.bind(provider="kraken").warning("book.stale")

    first, second = lines(stream)
    assert first["event"] == "order.submitted"
    assert first["level"] == "INFO"
    assert first["logger"] == "tradegw.test"
    assert (first["trace_id"], first["decision_id"]) == ("t-1", "d-9")
    assert (first["consumer"], first["qty"], first["client_order_id"]) == ("mm1", "0.5", "c1")
    assert "trace_id" not in second  # context ended with the block
    assert (second["provider"], second["consumer"]) == ("kraken", "mm1")


def test_secrets_are_never_written(stream: io.StringIO) -> None:
    log = get_logger("tradegw.test")

    log.error(
        "auth.failed",
        api_key="AKIA-123",
        token=SecretStr("tok-zzz"),
        creds={"password": "pw-1", "user": "bob"},
        note=SecretStr("hidden-too"),
    )

    text = stream.getvalue()
    for secret in ("AKIA-123", "tok-zzz", "pw-1", "hidden-too"):
        assert secret not in text
    (doc,) = lines(stream)
    assert doc["creds"] == {"password": "***", "user": "bob"}
    assert redact({"passphrase": "x", "n": 1}) == {"passphrase": "***", "n": 1}


def test_level_from_config_filters_and_reconfigure_replaces_the_handler() -> None:
    buf = io.StringIO()
    configure_logging("DEBUG", "json", stream=io.StringIO(), logger_name="tradegw.lvl")
    handler = configure_logging("warning", "console", stream=buf, logger_name="tradegw.lvl")
    log = get_logger("tradegw.lvl", venue="binance")

    log.debug("hidden")
    log.info("hidden")
    log.warning("shown", trace_id="abc")
    try:
        raise RuntimeError("kaput")
    except RuntimeError:
        log.exception("crashed")

    logger = logging.getLogger("tradegw.lvl")
    assert logger.handlers == [handler]
    out = buf.getvalue()
    assert "hidden" not in out
    assert "WARNING tradegw.lvl shown venue=binance trace_id=abc" in out
    assert "ERROR   tradegw.lvl crashed" in out
    assert "RuntimeError: kaput" in out
    logger.removeHandler(handler)


def test_json_formatter_includes_tracebacks(stream: io.StringIO) -> None:
    log = get_logger("tradegw.test")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed", step=2)

    (doc,) = lines(stream)
    assert doc["step"] == 2
    assert "ValueError: bad" in str(doc["exc"])


def test_tracer_helper_works_without_an_sdk() -> None:
    tracer = get_tracer("tradegw.test")

    with span(tracer, "order.submit", {"qty": Decimal("1.5"), "provider": "binance"}) as current:
        assert current is not None
        assert current_trace_id() == ""  # no SDK configured: spans are no-ops
    with pytest.raises(KeyError), span(tracer, "failing"):
        raise KeyError("x")


def test_plain_stdlib_extra_fields_are_rendered_and_redacted(stream: io.StringIO) -> None:
    logger = logging.getLogger("tradegw.test")

    logger.info("plain", extra={"consumer_id": "c9", "trace_id": "t-7", "secret_key": "x"})
    get_logger("tradegw.test").info("adapted", extra={"venue": "kraken"}, qty=1)

    plain, adapted = lines(stream)
    assert (plain["consumer_id"], plain["trace_id"], plain["secret_key"]) == ("c9", "t-7", "***")
    assert (adapted["venue"], adapted["qty"]) == ("kraken", 1)
