"""Kraken REST request signing (``API-Sign``) and nonces.

``API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + body)))``
where ``body`` is the exact urlencoded POST body (it contains ``nonce=...`` itself).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from tradegw_core.clock import Clock
from tradegw_core.errors import ConfigError

__all__ = ["NonceSource", "api_sign", "decode_secret"]


def decode_secret(secret_b64: str) -> bytes:
    """The HMAC key from the base64 private key; ConfigError saying so when it is not base64."""
    try:
        return base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(
            "providers.kraken.api_secret is not valid base64: copy the private key exactly "
            "as Kraken shows it"
        ) from exc


def api_sign(uri_path: str, nonce: str | int, body: str | bytes, secret: bytes | str) -> str:
    """The ``API-Sign`` header for one private REST request.

    ``uri_path`` starts at ``/0/private/``; ``body`` is the urlencoded POST data exactly as
    sent; ``secret`` is the decoded key (bytes) or the base64 text.
    """
    key = decode_secret(secret) if isinstance(secret, str) else secret
    body_bytes = body.encode() if isinstance(body, str) else body
    digest = hashlib.sha256(str(nonce).encode() + body_bytes).digest()
    mac = hmac.new(key, uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class NonceSource:
    """Strictly increasing nonces per API key: wall-clock milliseconds, bumped when equal.

    One instance per key (the adapter owns it); Kraken rejects a nonce not larger than the
    last one it saw (``EAPI:Invalid nonce``).
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        """The next nonce."""
        now = self._clock.time_ns() // 1_000_000
        self._last = max(now, self._last + 1)
        return self._last
