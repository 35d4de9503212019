"""CDP JWTs: the test-vector 5.1 key encodings, ES256/EdDSA round trips, rejections."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from tradegw_coinbase.jwt import (
    JwtError,
    build_jwt,
    format_uri,
    load_private_key,
    verify_jwt,
)

from tradegw_core.errors import AuthenticationError

# test-vectors.md section 5.1 (coinbase-advanced-py tests/constants.py @ 54fb8ed).
ED_64 = "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA=="
ED_32 = "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputA="
ED_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJNAVJ4tKdL2RtQXaVY0uqIASe5MZut9ACdnTfrbqbrQ\n"
    "-----END PRIVATE KEY-----\n"
)
ED_PUBLIC_HEX = "ce2ac440c20caba4440b781b52d739d39b33d7e97af678e5a9cf1ea75bc92790"
KEY_NAME = "organizations/org-1/apiKeys/key-1"
ORDERS_URI = "POST api.coinbase.com/api/v3/brokerage/orders"
NOW = 1_775_572_200


def _raw_public(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _segments(token: str) -> tuple[dict[str, object], dict[str, object]]:
    h, c, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(
        base64.urlsafe_b64decode(pad(c))
    )


@pytest.fixture
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ec_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def test_vector_5_1_three_encodings_load_to_one_key() -> None:
    publics = {_raw_public(load_private_key(k)) for k in (ED_64, ED_32, ED_PEM)}  # type: ignore[arg-type]
    assert publics == {ED_PUBLIC_HEX}
    assert base64.b64decode(ED_64)[32:].hex() == ED_PUBLIC_HEX


def test_es256_jwt_verifies_with_the_public_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _ec_pem(ec_key)
    assert "BEGIN EC PRIVATE KEY" in pem
    # Keys often arrive from the environment with literal "\n" sequences.
    key = load_private_key(pem.replace("\n", "\\n"))
    token = build_jwt(KEY_NAME, key, now=NOW, uri=ORDERS_URI)
    header, claims = _segments(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == KEY_NAME
    assert header["typ"] == "JWT"
    assert isinstance(header["nonce"], str)
    assert len(header["nonce"]) >= 16
    claims_ok = verify_jwt(
        token, ec_key.public_key(), now=NOW + 60, expected_uri=ORDERS_URI, key_name=KEY_NAME
    )
    assert claims_ok == claims
    assert claims["sub"] == KEY_NAME
    assert claims["iss"] == "cdp"
    assert claims["nbf"] == NOW
    assert claims["exp"] == NOW + 120
    assert claims["uri"] == ORDERS_URI
    # Every JWT is fresh: random nonce, randomised ECDSA signature.
    assert build_jwt(KEY_NAME, key, now=NOW, uri=ORDERS_URI) != token


def test_eddsa_jwt_with_the_vector_key_verifies() -> None:
    key = load_private_key(ED_64)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(ED_PUBLIC_HEX))
    token = build_jwt(KEY_NAME, key, now=NOW, uri=ORDERS_URI)
    header, _ = _segments(token)
    assert header["alg"] == "EdDSA"
    claims = verify_jwt(token, public, now=NOW, expected_uri=ORDERS_URI, key_name=KEY_NAME)
    assert (claims["sub"], claims["iss"], claims["uri"]) == (KEY_NAME, "cdp", ORDERS_URI)
    assert claims["exp"] == claims["nbf"] + 120
    ws_token = build_jwt(KEY_NAME, key, now=NOW)
    assert "uri" not in _segments(ws_token)[1]  # WebSocket JWTs omit uri
    assert verify_jwt(ws_token, public, now=NOW)["exp"] == NOW + 120


def test_expired_and_not_yet_valid_jwts_are_rejected(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = build_jwt(KEY_NAME, ec_key, now=NOW, uri=ORDERS_URI)
    with pytest.raises(JwtError, match="expired") as info:
        verify_jwt(token, ec_key.public_key(), now=NOW + 120)
    assert info.value.reason == "expired"
    assert isinstance(info.value, AuthenticationError)
    assert not info.value.retryable
    with pytest.raises(JwtError) as info:
        verify_jwt(token, ec_key.public_key(), now=NOW - 5)
    assert info.value.reason == "not_yet_valid"


def test_bad_signature_wrong_key_and_tampering_are_rejected(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    token = build_jwt(KEY_NAME, ec_key, now=NOW, uri=ORDERS_URI)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(JwtError) as info:
        verify_jwt(token, other.public_key(), now=NOW)
    assert info.value.reason == "signature"
    h, c, s = token.split(".")
    forged = json.dumps({"sub": KEY_NAME, "iss": "cdp", "nbf": NOW, "exp": NOW + 9999})
    forged_c = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    with pytest.raises(JwtError) as info:
        verify_jwt(f"{h}.{forged_c}.{s}", ec_key.public_key(), now=NOW)
    assert info.value.reason == "signature"
    with pytest.raises(JwtError) as info:
        verify_jwt(f"{h}.{c}", ec_key.public_key(), now=NOW)
    assert info.value.reason == "malformed"
    with pytest.raises(JwtError) as info:
        verify_jwt("a.b!.c", ec_key.public_key(), now=NOW)
    assert info.value.reason == "malformed"


def test_uri_alg_and_key_name_mismatches_are_rejected(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = build_jwt(KEY_NAME, ec_key, now=NOW, uri=ORDERS_URI)
    with pytest.raises(JwtError) as info:
        verify_jwt(token, ec_key.public_key(), now=NOW, expected_uri="GET api.coinbase.com/x")
    assert info.value.reason == "uri"
    with pytest.raises(JwtError) as info:
        verify_jwt(token, ec_key.public_key(), now=NOW, key_name="organizations/o/apiKeys/k")
    assert info.value.reason == "key_name"
    ed_public = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(JwtError) as info:
        verify_jwt(token, ed_public, now=NOW)
    assert info.value.reason == "alg"


def test_unusable_keys_fail_with_a_clear_reason() -> None:
    with pytest.raises(JwtError, match="neither a PEM nor base64"):
        load_private_key("not a key!")
    with pytest.raises(JwtError, match="32 or 64 bytes"):
        load_private_key(base64.b64encode(b"x" * 16).decode())
    mismatched = base64.b64encode(base64.b64decode(ED_64)[:32] + b"\0" * 32).decode()
    with pytest.raises(JwtError, match="public half"):
        load_private_key(mismatched)
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(JwtError, match="P-256"):
        load_private_key(_ec_pem(p384))  # type: ignore[arg-type]
    with pytest.raises(JwtError, match="does not load"):
        load_private_key("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")


def test_uri_claim_format() -> None:
    assert format_uri("post", "api.coinbase.com", "/api/v3/brokerage/orders") == ORDERS_URI
    assert (
        format_uri(
            "GET", "https://127.0.0.1:8443/", "/api/v3/brokerage/orders/historical/batch?x=1"
        )
        == "GET 127.0.0.1:8443/api/v3/brokerage/orders/historical/batch"
    )
