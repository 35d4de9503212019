"""Signatures: the documented Binance vectors (test-vectors.md section 1) reproduce exactly."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tradegw_binance.signing import (
    Ed25519Signer,
    HmacSigner,
    format_param,
    rest_payload,
    sign_rest,
    sign_ws_params,
    verify_ed25519,
    verify_hmac,
    ws_api_payload,
)

from tradegw_core.errors import ConfigError

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
FULLWIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"
"""The documented non-ASCII symbol (full-width digits 1-6)."""
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
REST_PARAMS = [
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", 5000),
    ("timestamp", 1499827319559),
]


def test_vector_1_1_rest_ascii() -> None:
    params = [("symbol", "LTCBTC"), *REST_PARAMS]
    assert rest_payload(params) == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    query = sign_rest(params, HmacSigner(SECRET))
    assert query.endswith(
        "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_vector_1_2_rest_non_ascii_symbol_is_percent_encoded_before_signing() -> None:
    params = [("symbol", FULLWIDTH), *REST_PARAMS]
    payload = rest_payload(params)
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert HmacSigner(SECRET).sign(payload) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


WS_VECTORS = [
    (
        "apiKey={k}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
    ),
    (
        "apiKey={k}&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY&symbol="
        + FULLWIDTH
        + "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
    ),
    (
        "apiKey={k}&price=23416.10000000&quantity=0.00847000&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1660801715431&type=LIMIT",
        "15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88",
    ),
    (
        "apiKey={k}&origClientOrderId=4d96324ff9d44481926157&symbol=BTCUSDT&timestamp=1660801715830",
        "33d5b721f278ae17a52f004a82a6f68a70c68e7dd6776ed0be77a455ab855282",
    ),
    (
        "apiKey={k}&cancelOrigClientOrderId=4d96324ff9d44481926157&cancelReplaceMode=ALLOW_FAILURE"
        "&price=23416.10000000&quantity=0.00847000&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
        "&timestamp=1660813156900&type=LIMIT",
        "7028fdc187868754d25e42c37ccfa5ba2bab1d180ad55d4c3a7e2de643943dc5",
    ),
    (
        "apiKey={k}&orderId=12569099453&symbol=BTCUSDT&timestamp=1660801720951",
        "2c3aab5a078ee4ea465ecd95523b77289f61476c2f238ec10c55ea6cb11a6f35",
    ),
    (
        "apiKey={k}&symbol=BTCUSDT&timestamp=1660813156812",
        "d632b3fdb8a81dd44f82c7c901833309dd714fe508772a89b0a35b0ee0c48b89",
    ),
    (
        "apiKey={k}&timestamp=1649729878532",
        "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed",
    ),
]


@pytest.mark.parametrize(("payload", "signature"), WS_VECTORS, ids=[f"1.{i}" for i in range(3, 11)])
def test_vectors_1_3_to_1_10_ws_api(payload: str, signature: str) -> None:
    documented = payload.format(k=API_KEY)
    # Rebuild the request's params in a shuffled order: the payload must sort them back.
    params = dict(reversed(list(parse_qsl(documented, keep_blank_values=True))))
    params.pop("apiKey")
    signed = sign_ws_params(params, HmacSigner(SECRET), API_KEY)
    assert ws_api_payload(signed) == documented
    assert signed["signature"] == signature
    assert verify_hmac(SECRET, documented, signature.upper())  # verified case-insensitively
    tampered = documented.replace("timestamp=1", "timestamp=2")
    assert not verify_hmac(SECRET, tampered, signature)


def test_ed25519_sign_and_verify_with_a_generated_key() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = Ed25519Signer.from_pem(pem.decode())
    payload = "apiKey=k&symbol=BTCUSDT&timestamp=1"
    sig = signer.sign(payload)
    assert verify_ed25519(signer.public_key(), payload, sig)
    assert not verify_ed25519(signer.public_key(), payload + "0", sig)
    assert not verify_ed25519(signer.public_key(), payload, "not base64!")
    # In a REST query string the base64 signature is percent-encoded.
    query = sign_rest([("symbol", "BTCUSDT")], signer)
    assert dict(parse_qsl(query))["signature"] == signer.sign("symbol=BTCUSDT")
    assert "+" not in query.split("signature=")[1]
    assert "/" not in query.split("signature=")[1]
    assert "key" not in repr(signer).lower().replace("<key>", "")


def test_ed25519_loader_refuses_non_ed25519_keys() -> None:
    with pytest.raises(ConfigError, match="not a PEM"):
        Ed25519Signer.from_pem("garbage")
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ConfigError, match="not an Ed25519"):
        Ed25519Signer.from_pem(other)


def test_params_render_the_way_the_venue_reads_them() -> None:
    assert format_param(Decimal("1E-8")) == "0.00000001"
    assert format_param(True) == "true"
    assert format_param(5000) == "5000"
    assert "secret" not in repr(HmacSigner(SECRET)).lower().replace("<secret>", "")
