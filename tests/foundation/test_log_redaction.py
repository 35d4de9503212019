"""No signature, key or token reaches the logs: httpx request lines are kept out, and
whatever follows a secret-looking name in a message or a traceback is masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from tradegw_core.observability.logging import configure_logging, mask_secrets

SIGNED = "https://api.example.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=5eb1a9c0ffee"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_signed_urls_never_reach_the_log(log_stream: io.StringIO, fmt: str) -> None:
    configure_logging("DEBUG", fmt, stream=log_stream)  # type: ignore[arg-type]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, request=request)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        response = client.get(SIGNED)  # httpx logs "HTTP Request: GET <url>" at INFO
    log = logging.getLogger("tradegw.test")
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError:
        log.exception("order failed: %s", response.request.url)
    log.warning('sent {"apiKey": "K-123", "signature": "abc"} with X-MBX-APIKEY: K-123')
    text = log_stream.getvalue()
    assert "5eb1a9c0ffee" not in text
    assert "K-123" not in text
    assert "HTTP Request" not in text
    assert "signature=***" in text
    lines = text.strip().splitlines()
    if fmt == "json":
        assert json.loads(lines[0])["event"].startswith("order failed: https://api.example.com")


def test_mask_secrets_leaves_plain_words_alone() -> None:
    assert mask_secrets("the token is only 5 characters long") == (
        "the token is only 5 characters long"
    )
    assert mask_secrets("listenKey=abc&x=1 Bearer eyJ.x.y") == "listenKey=***&x=1 Bearer ***"
