"""CDP API key JWTs (ES256 and EdDSA), built and verified with ``cryptography`` only.

Protocol notes section 4.1: header ``{"alg", "kid": <key name>, "nonce": <random hex>,
"typ": "JWT"}``; claims ``{"sub": <key name>, "iss": "cdp", "nbf": now, "exp": now + 120,
"uri": "<METHOD> <host><path>"}`` (no scheme, no query string; WebSocket JWTs omit
``uri``). One fresh JWT per request or per WebSocket message that carries one.

Key loading follows the official SDK: EC P-256 PEM (``BEGIN EC PRIVATE KEY``) -> ES256;
Ed25519 as PKCS#8 PEM, base64 of the 32-byte seed, or base64 of 64 bytes (seed || public)
-> EdDSA (test-vectors.md section 5.1).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tradegw_core.errors import AuthenticationError

__all__ = [
    "JWT_ISSUER",
    "JwtError",
    "PrivateKey",
    "PublicKey",
    "algorithm_for",
    "build_jwt",
    "format_uri",
    "load_private_key",
    "unverified_header",
    "verify_jwt",
]

JWT_ISSUER = "cdp"
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class JwtError(AuthenticationError):
    """A JWT or key is unusable; ``reason`` is a short word (``expired``, ``signature``...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, venue="coinbase")
        self.reason = reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(secret: str) -> PrivateKey:
    """Load a CDP private key from any encoding the SDK accepts.

    Accepts escaped newlines (``\\n`` as two characters, as keys often arrive from
    environment variables). Raises :class:`JwtError` naming the accepted formats.
    """
    text = secret.strip().replace("\\n", "\n")
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as exc:
            raise JwtError(f"the CDP private key PEM does not load: {exc}", reason="key") from exc
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise JwtError(
                    f"the CDP EC key must be P-256 (ES256), not {key.curve.name}", reason="key"
                )
            return key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key
        raise JwtError("the CDP private key must be EC P-256 or Ed25519", reason="key")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise JwtError(
            "the CDP private key is neither a PEM nor base64 (Ed25519 seed or seed||public)",
            reason="key",
        ) from exc
    if len(raw) not in (32, 64):
        raise JwtError(
            f"an Ed25519 key in base64 must hold 32 or 64 bytes, this one holds {len(raw)}",
            reason="key",
        )
    key25519 = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64:
        public = key25519.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if public != raw[32:]:
            raise JwtError("the 64-byte Ed25519 key's public half does not match", reason="key")
    return key25519


def algorithm_for(key: PrivateKey | PublicKey) -> str:
    """``ES256`` for EC P-256 keys, ``EdDSA`` for Ed25519 keys."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    return "EdDSA"


def format_uri(method: str, host: str, path: str) -> str:
    """The ``uri`` claim: ``"POST api.coinbase.com/api/v3/brokerage/orders"``.

    ``host`` may be a URL (scheme dropped); the path loses its query string.
    """
    bare = host.split("://", 1)[-1].rstrip("/")
    return f"{method.upper()} {bare}{path.split('?', 1)[0]}"


def build_jwt(
    key_name: str,
    private_key: PrivateKey,
    *,
    now: int,
    uri: str | None = None,
    ttl: int = 120,
    nonce: str | None = None,
) -> str:
    """Build and sign one JWT; ``now`` is UNIX seconds; ``uri`` None for WebSocket use."""
    alg = algorithm_for(private_key)
    header = {"alg": alg, "kid": key_name, "nonce": nonce or secrets.token_hex(16), "typ": "JWT"}
    claims: dict[str, Any] = {
        "sub": key_name,
        "iss": JWT_ISSUER,
        "nbf": now,
        "exp": now + ttl,
    }
    if uri is not None:
        claims["uri"] = uri
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    ).encode("ascii")
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        der = private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = private_key.sign(signing_input)
    return signing_input.decode("ascii") + "." + _b64url(signature)


def unverified_header(token: str) -> dict[str, Any]:
    """The JWT header *before* verification (to pick the key by ``kid``); {} if unreadable."""
    try:
        header = json.loads(_b64url_decode(token.split(".", 1)[0]))
    except (ValueError, binascii.Error):
        return {}
    return header if isinstance(header, dict) else {}


def verify_jwt(
    token: str,
    public_key: PublicKey,
    *,
    now: int,
    expected_uri: str | None = None,
    key_name: str | None = None,
    leeway: int = 0,
) -> dict[str, Any]:
    """Check a CDP JWT and return its claims; raise :class:`JwtError` saying what is wrong.

    Checks the signature with ``public_key`` (alg must match the key type), ``iss``,
    ``nbf``/``exp`` against ``now`` (UNIX seconds, ``leeway`` allowed), ``sub``/``kid``
    against ``key_name`` and, when given, ``uri`` (coinbase-advanced-py) or one of ``uris``
    (the CDP SDK) against ``expected_uri``. ``aud`` and ``typ`` are not checked (the CDP
    SDK sends ``aud: null`` unless asked for an audience).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("a JWT has three dot-separated parts", reason="malformed")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise JwtError(f"the JWT does not decode: {exc}", reason="malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("JWT header and claims must be JSON objects", reason="malformed")
    alg = algorithm_for(public_key)
    if header.get("alg") != alg:
        raise JwtError(f"JWT alg {header.get('alg')!r}, the key needs {alg}", reason="alg")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, signing_input)
    except InvalidSignature as exc:
        raise JwtError("the JWT signature does not verify", reason="signature") from exc
    if claims.get("iss") != JWT_ISSUER:
        raise JwtError(f"JWT iss {claims.get('iss')!r}, expected 'cdp'", reason="claims")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int):
        raise JwtError("JWT nbf and exp must be integers", reason="claims")
    if now + leeway < nbf:
        raise JwtError(f"JWT not valid before {nbf} (now {now})", reason="not_yet_valid")
    if now - leeway >= exp:
        raise JwtError(f"JWT expired at {exp} (now {now})", reason="expired")
    if key_name is not None and (claims.get("sub") != key_name or header.get("kid") != key_name):
        raise JwtError("JWT sub/kid is not the expected key name", reason="key_name")
    uris = claims.get("uris")  # the CDP SDK's form: a list of "<METHOD> <host><path>"
    if (
        expected_uri is not None
        and claims.get("uri") != expected_uri
        and not (isinstance(uris, list) and expected_uri in uris)
    ):
        raise JwtError(
            f"JWT uri {claims.get('uri') or uris!r} does not match the request {expected_uri!r}",
            reason="uri",
        )
    return claims
