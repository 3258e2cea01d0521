"""JWT verification against the forgery classes in SECURITY.md."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from jose import jwt

from anxin_shared.errors import Unauthenticated
from anxin_shared.keys import ensure_dev_keys, load_key, private_key_path, public_key_path
from anxin_shared.tokens import IssuerConfig, TokenSigner, TokenVerifier

AUDIENCE = "anxin-gateway"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    ensure_dev_keys(directory, ["life-claims-system", "bank-crm-system"])
    return directory


@pytest.fixture(scope="module")
def verifier(keys: Path) -> TokenVerifier:
    return TokenVerifier(
        issuers={
            "idp": IssuerConfig(
                "idp", {"idp": load_key(public_key_path(keys, "idp"))}, max_lifetime_seconds=3600
            ),
            "life-claims-system": IssuerConfig(
                "life-claims-system",
                {"life": load_key(keys / "clients" / "life-claims-system.pub.pem")},
                bound_subject="life-claims-system",
            ),
        },
        audience=AUDIENCE,
    )


def claims(**overrides: object) -> dict:
    now = int(time.time())
    base = {"iss": "idp", "sub": "agent.li", "aud": AUDIENCE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def idp_signer(keys: Path) -> TokenSigner:
    return TokenSigner("idp", load_key(private_key_path(keys, "idp")), "idp")


def test_a_valid_token_verifies(keys: Path, verifier: TokenVerifier) -> None:
    token = idp_signer(keys).mint("agent.li", AUDIENCE, 600, subsidiary="life")
    assert verifier.verify(token)["sub"] == "agent.li"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_case(verifier: TokenVerifier, alg: str) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned({"alg": alg, "typ": "JWT"}, claims()))


def test_hs256_keyed_with_the_public_key(keys: Path, verifier: TokenVerifier) -> None:
    public_pem = public_key_path(keys, "idp").read_bytes()
    public = serialization.load_pem_public_key(public_pem)
    forms = [
        public_pem,
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    ]
    import hashlib
    import hmac

    for secret in forms:
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims()).encode())
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(Unauthenticated):
            verifier.verify(f"{header}.{payload}.{b64(signature)}")


def test_stripped_signature_and_swapped_payload(keys: Path, verifier: TokenVerifier) -> None:
    token = idp_signer(keys).mint("agent.li", AUDIENCE, 600)
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{header}.{payload}.")
    swapped = b64(json.dumps(claims(sub="supervisor.liu")).encode())
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{header}.{swapped}.{signature}")


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(time.time()) - 120, "iat": int(time.time()) - 700},
        {"nbf": int(time.time()) + 3600},
        {"exp": None},
        {"iat": None},
        {"aud": None},
        {"aud": "anxin-profile"},
        {"aud": ["anxin-gateway", "anxin-profile"]},
        {"iss": "someone-else"},
        {"sub": None},
        {"exp": int(time.time()) + 7200},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3700},
    ],
)
def test_claims_are_enforced(keys: Path, verifier: TokenVerifier, bad: dict) -> None:
    token = jwt.encode(
        claims(**bad),
        load_key(private_key_path(keys, "idp")),
        algorithm="ES256",
        headers={"kid": "idp"},
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_another_issuers_key_cannot_sign(keys: Path, verifier: TokenVerifier) -> None:
    bank_key = load_key(keys / "clients" / "bank-crm-system.key.pem")
    for body in (claims(iss="life-claims-system", sub="life-claims-system"), claims()):
        token = jwt.encode(body, bank_key, algorithm="ES256")
        with pytest.raises(Unauthenticated):
            verifier.verify(token)
    # The IdP's key used for a subsidiary client.
    token = jwt.encode(
        claims(iss="life-claims-system", sub="life-claims-system"),
        load_key(private_key_path(keys, "idp")),
        algorithm="ES256",
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_a_client_key_signs_only_for_its_client(keys: Path, verifier: TokenVerifier) -> None:
    life = TokenSigner(
        "life-claims-system", load_key(keys / "clients" / "life-claims-system.key.pem"), "life"
    )
    assert verifier.verify(life.mint("life-claims-system", AUDIENCE, 600))["sub"]
    with pytest.raises(Unauthenticated):
        verifier.verify(life.mint("bank-crm-system", AUDIENCE, 600))


@pytest.mark.parametrize(
    "header",
    [
        {"kid": "../../etc/passwd"},
        {"kid": "' OR 1=1 --"},
        {"kid": 7},
        {"jku": "http://127.0.0.1:9/jwks.json"},
        {"x5u": "http://127.0.0.1:9/cert.pem"},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
    ],
)
def test_key_selection_headers(keys: Path, verifier: TokenVerifier, header: dict) -> None:
    token = jwt.encode(
        claims(), load_key(private_key_path(keys, "idp")), algorithm="ES256", headers=header
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_huge_tokens_are_refused_before_parsing(verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify("a" * 100_000)
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned({"alg": "ES256"}, claims(pad="x" * 20_000)))


def test_verified_tokens_are_cached_until_they_expire(keys: Path, verifier: TokenVerifier) -> None:
    token = idp_signer(keys).mint("agent.li", AUDIENCE, 600)
    first = verifier.verify(token)
    assert verifier.verify(token) is first
