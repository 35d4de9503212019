"""Request signing for Binance spot (binance.md section 4.2, test-vectors.md section 1).

- REST payload: the query string followed, with no separator, by the body, exactly as sent;
  non-ASCII characters percent-encoded before signing. ``signature`` is appended last.
- WebSocket API payload: every ``params`` entry except ``signature``, sorted by name, joined
  as ``name=value&...``, UTF-8, not percent-encoded, ``apiKey`` included.
- HMAC-SHA256 gives lower-case hex (verified case-insensitively); Ed25519 gives base64
  (case-sensitive; percent-encoded in a query string).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tradegw_core.errors import ConfigError

__all__ = [
    "Ed25519Signer",
    "HmacSigner",
    "RequestSigner",
    "format_param",
    "rest_payload",
    "sign_rest",
    "sign_ws_params",
    "verify_ed25519",
    "verify_hmac",
    "ws_api_payload",
]

ParamValue = str | int | Decimal | bool


def format_param(value: ParamValue) -> str:
    """Render a parameter the way the venue reads it (Decimals without exponent)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class RequestSigner(Protocol):
    """Signs a payload string; one implementation per API key type."""

    def sign(self, payload: str) -> str:
        """The signature text for ``payload``."""
        ...


class HmacSigner:
    """HMAC-SHA256 with the secret key; lower-case hex output."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def sign(self, payload: str) -> str:
        """Lower-case hex HMAC-SHA256 of the UTF-8 payload."""
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "HmacSigner(<secret>)"


class Ed25519Signer:
    """Ed25519 with a private key; base64 output."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_pem(cls, pem: str | bytes) -> Ed25519Signer:
        """Load a PKCS#8 PEM private key; ConfigError when it is not an Ed25519 key."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"providers.binance.ed25519_private_key: not a PEM private key ({exc})"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(
                "providers.binance.ed25519_private_key: the PEM key is not an Ed25519 key"
            )
        return cls(key)

    def public_key(self) -> Ed25519PublicKey:
        """The matching public key (what the venue, or the emulator, verifies with)."""
        return self._key.public_key()

    def sign(self, payload: str) -> str:
        """Base64 Ed25519 signature of the UTF-8 payload."""
        return base64.b64encode(self._key.sign(payload.encode())).decode()

    def __repr__(self) -> str:
        return "Ed25519Signer(<key>)"


def rest_payload(params: Sequence[tuple[str, ParamValue]]) -> str:
    """The query string as sent (order kept; non-ASCII percent-encoded)."""
    return urlencode([(k, format_param(v)) for k, v in params])


def sign_rest(
    params: Sequence[tuple[str, ParamValue]], signer: RequestSigner, body: str = ""
) -> str:
    """Query string with ``signature`` appended last (signed over query + body)."""
    query = rest_payload(params)
    signature = signer.sign(query + body)
    tail = urlencode([("signature", signature)])
    return f"{query}&{tail}" if query else tail


def ws_api_payload(params: Mapping[str, ParamValue]) -> str:
    """WS API payload: params except ``signature``, sorted by name, not percent-encoded."""
    return "&".join(f"{k}={format_param(params[k])}" for k in sorted(params) if k != "signature")


def sign_ws_params(
    params: Mapping[str, ParamValue], signer: RequestSigner, api_key: str
) -> dict[str, ParamValue]:
    """A copy of ``params`` with ``apiKey`` and ``signature`` added."""
    out: dict[str, ParamValue] = {**params, "apiKey": api_key}
    out["signature"] = signer.sign(ws_api_payload(out))
    return out


def verify_hmac(secret: str, payload: str, signature: str) -> bool:
    """Constant-time check of an HMAC signature (case-insensitive, as the venue does)."""
    expected = HmacSigner(secret).sign(payload)
    return hmac.compare_digest(expected, signature.lower())


def verify_ed25519(public_key: Ed25519PublicKey, payload: str, signature: str) -> bool:
    """Check a base64 Ed25519 signature."""
    try:
        public_key.verify(base64.b64decode(signature, validate=True), payload.encode())
    except (InvalidSignature, ValueError):
        return False
    return True
