"""The Coinbase emulator's CDP keys and JWT checks (REST ``Authorization`` and WS ``jwt``).

Every JWT is verified (ES256 or EdDSA, ``uri`` against the request line, 120 s expiry);
each refusal is counted in :attr:`CdpAuth.failures`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tradegw_coinbase.jwt import JwtError, PublicKey, format_uri, load_private_key, verify_jwt
from tradegw_coinbase.jwt import unverified_header as jwt_header
from tradegw_core.clock import Clock
from tradegw_core.sim.emulator import ApiCredentials, HttpRequest

__all__ = ["CdpAuth", "seeded_cdp_credentials"]


def seeded_cdp_credentials(seed: object, venue: str) -> tuple[ApiCredentials, ...]:
    """One EC P-256 CDP key derived from ``seed`` and ``venue`` (deterministic)."""
    digest = hashlib.sha256(f"{seed}:{venue}:cdp".encode()).digest()
    key = ec.derive_private_key(int.from_bytes(digest, "big") % (2**255), ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return (ApiCredentials(f"organizations/emulator/apiKeys/{venue}-test-key", pem),)


class CdpAuth:
    """The emulator's accepted CDP keys; checks JWTs and counts the failures."""

    def __init__(self, credentials: Sequence[ApiCredentials], clock: Clock, host: str) -> None:
        self.failures = 0
        """JWTs refused (unknown key, bad signature, wrong uri, expired, missing header)."""
        self._clock = clock
        self._host = host
        self._keys: dict[str, tuple[ApiCredentials, PublicKey]] = {}
        for cred in credentials:
            try:
                key = load_private_key(cred.api_secret)
            except JwtError as exc:
                raise ValueError(
                    f"the API secret of key {cred.api_key!r} is not a usable CDP private key "
                    f"(PEM EC P-256 or Ed25519): {exc}"
                ) from exc
            self._keys[cred.api_key] = (cred, key.public_key())

    def check(self, token: str, uri: str | None) -> ApiCredentials | None:
        """The credentials ``token`` was signed with, or None when it is refused."""
        entry = self._keys.get(str(jwt_header(token).get("kid", "")))
        if entry is None:
            self.failures += 1
            return None
        cred, public = entry
        now_s = self._clock.time_ns() // 1_000_000_000
        try:
            verify_jwt(token, public, now=now_s, expected_uri=uri, key_name=cred.api_key)
        except JwtError:
            self.failures += 1
            return None
        return cred

    def check_request(self, request: HttpRequest) -> ApiCredentials | None:
        """The credentials of a REST request's ``Authorization: Bearer`` JWT, or None."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            self.failures += 1
            return None
        host = request.headers.get("host", self._host)
        return self.check(header[7:], format_uri(request.method, host, request.path))
