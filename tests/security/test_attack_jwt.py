"""Issue 9, attack suite: the JWT forgery catalogue (SECURITY.md, Authentication).

Against every issuer the gateway trusts (the dev IdP and each subsidiary client)
and against the internal token at every service port directly. A control token
built the same way but signed correctly must pass, so each forgery differs from
an accepted token by exactly the attack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from anxin_shared.keys import load_key
from tests.security.support_attacks import b64, b64_json, collect, hmac_token, report
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

REFUSED = {400, 401, 413, 431}
SERVICE_PATHS = {
    "profile": "/api/v1/customers?limit=1",
    "consent": "/api/v1/consent/notices",
    "identity": "/api/v1/calls/abc",
    "audit": "/api/v1/audit/events?limit=1",
}


def _pem(path: Path) -> bytes:
    return path.read_bytes()


def _public_forms(pub_pem: Path) -> dict[str, bytes]:
    """The public key as PEM (with and without the final newline), DER and SSH."""
    pem = _pem(pub_pem)
    public = serialization.load_pem_public_key(pem)
    return {
        "pem": pem,
        "pem-stripped": pem.strip(),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "ssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    }


def _attacker_key() -> tuple[str, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }
    return pem, jwk


def forgeries(
    claims: dict[str, Any],
    key_file: Path,
    pub_file: Path,
    kid: str,
    other_keys: dict[str, Path],
) -> tuple[str, dict[str, str]]:
    """(control token, {name: forged token}) for one issuer."""
    key = load_key(key_file)

    def sign(payload: dict[str, Any], headers: dict[str, Any] | None = None, k: Any = key) -> str:
        return str(
            jwt.encode(payload, k, algorithm="ES256", headers={"kid": kid, **(headers or {})})
        )

    now = int(time.time())
    control = sign(claims)
    head, payload, signature = control.split(".")
    out: dict[str, str] = {}
    for alg in ("none", "None", "NONE", "nOnE", "NoNe"):
        header = b64_json({"alg": alg, "typ": "JWT", "kid": kid})
        out[f"alg {alg} empty sig"] = f"{header}.{payload}."
        out[f"alg {alg} old sig"] = f"{header}.{payload}.{signature}"
    for form, secret in _public_forms(pub_file).items():
        for alg in ("HS256", "HS384", "HS512"):
            out[f"{alg} keyed with {form}"] = hmac_token(
                {"alg": alg, "typ": "JWT", "kid": kid}, claims, secret
            )
    out["stripped signature"] = f"{head}.{payload}."
    out["no signature segment"] = f"{head}.{payload}"
    escalated = {**claims, "sub": "auditor.zheng", "roles": ["internal_auditor"], "exp": now + 99}
    out["swapped payload"] = f"{head}.{b64_json(escalated)}.{signature}"
    out["expired"] = sign({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 1800})
    out["nbf in the future"] = sign({**claims, "nbf": now + 3600})
    out["iat in the future"] = sign({**claims, "iat": now + 3600, "exp": now + 3900})
    for claim in ("exp", "aud", "iss", "sub", "iat"):
        out[f"missing {claim}"] = sign({k: v for k, v in claims.items() if k != claim})
    out["wrong aud"] = sign({**claims, "aud": "anxin-elsewhere"})
    out["aud list"] = sign({**claims, "aud": [claims["aud"], "anxin-elsewhere"]})
    out["wrong iss"] = sign({**claims, "iss": "https://evil.example"})
    out["lifetime too long"] = sign({**claims, "exp": now + 400 * 24 * 3600})
    for name, other in other_keys.items():
        out[f"signed with {name} key"] = sign(claims, k=load_key(other))
    for bad_kid in (
        "../../../../../../dev/null",
        "../keys/idp",
        "/etc/passwd",
        "idp' OR '1'='1",
        "x'; DROP TABLE keys; --",
        "",
        "profile",
    ):
        out[f"kid {bad_kid!r}"] = sign(claims, {"kid": bad_kid})
    attacker_pem, attacker_jwk = _attacker_key()
    attacker = load_key_text(attacker_pem)
    out["attacker key, own kid"] = sign(claims, k=attacker)
    for header in (
        {"jwk": attacker_jwk},
        {"jku": "http://127.0.0.1:1/jwks.json"},
        {"x5u": "http://127.0.0.1:1/cert.pem"},
        {"jwk": attacker_jwk, "kid": "attacker"},
    ):
        out[f"attacker key via {sorted(header)}"] = sign(claims, header, k=attacker)
    padded = sign({**claims, "pad": "A" * 100_000})
    out["100 kB token"] = padded
    return control, out


def load_key_text(pem: str) -> Any:
    from jose import jwk

    return jwk.construct(pem, algorithm="ES256")


def _check(
    suite: RunningSuite,
    url: str,
    control: str,
    tokens: dict[str, str],
    label: str,
    accepted: list[str],
) -> int:
    get: Callable[[str], Any] = lambda token: collect(  # noqa: E731
        suite, suite.client.get(url, headers={"authorization": f"Bearer {token}"})
    )
    ok = get(control)
    assert ok.status_code not in REFUSED, (label, "control token refused", ok.text)
    for name, token in tokens.items():
        response = get(token)
        if response.status_code not in REFUSED:
            accepted.append(f"{label}: {name} -> {response.status_code}")
    return len(tokens) + 1


def test_jwt_forgery_catalogue(running_suite: RunningSuite) -> None:
    keys = running_suite.suite.var_dir / "keys"
    clients = sorted(p.name[: -len(".key.pem")] for p in (keys / "clients").glob("*.key.pem"))
    all_keys = {"idp": keys / "idp.key.pem"} | {
        c: keys / "clients" / f"{c}.key.pem" for c in clients
    }
    all_keys |= {s: keys / f"{s}.key.pem" for s in ("gateway", "profile", "identity")}
    now = int(time.time())
    accepted: list[str] = []
    tried = 0
    gateway_url = running_suite.gateway + "/api/v1/policy/version"

    issuers: list[tuple[str, dict[str, Any], Path, Path, str]] = [
        (
            "idp",
            {
                "iss": "anxin-dev-idp",
                "sub": "agent.li",
                "aud": "anxin-gateway",
                "iat": now,
                "exp": now + 600,
                "subsidiary": "life",
            },
            keys / "idp.key.pem",
            keys / "idp.pub.pem",
            "idp",
        )
    ]
    for client in clients:
        issuers.append(
            (
                client,
                {
                    "iss": client,
                    "sub": client,
                    "aud": "anxin-gateway",
                    "iat": now,
                    "exp": now + 600,
                },
                keys / "clients" / f"{client}.key.pem",
                keys / "clients" / f"{client}.pub.pem",
                client,
            )
        )
    for name, claims, key_file, pub_file, kid in issuers:
        others = {k: v for k, v in all_keys.items() if k != name}
        control, tokens = forgeries(claims, key_file, pub_file, kid, others)
        # A client key may sign only for its own client.
        if name != "idp":
            for other in clients:
                if other != name:
                    tokens[f"{name} signs for {other}"] = str(
                        jwt.encode(
                            {**claims, "iss": name, "sub": other},
                            load_key(key_file),
                            algorithm="ES256",
                            headers={"kid": name},
                        )
                    )
        tried += _check(running_suite, gateway_url, control, tokens, f"gateway/{name}", accepted)

    for service, path in SERVICE_PATHS.items():
        claims = {
            "iss": "anxin-gateway",
            "sub": "supervisor.liu",
            "aud": f"anxin-{service}",
            "iat": now,
            "nbf": now,
            "exp": now + 30,
            "kind": "user",
            "subsidiary": "life",
            "roles": ["supervisor"],
            "assurance_level": "L0",
            "call_session": None,
            "verified_customer": None,
            "decision_id": "d" * 32,
            "request_id": "r" * 32,
        }
        others = {k: v for k, v in all_keys.items() if k != "gateway"}
        others[f"{service} (the service's own)"] = keys / f"{service}.key.pem"
        control, tokens = forgeries(
            claims, keys / "gateway.key.pem", keys / "gateway.pub.pem", "gateway", others
        )
        tokens["internal token for another service"] = str(
            jwt.encode(
                {**claims, "aud": "anxin-gateway"},
                load_key(keys / "gateway.key.pem"),
                algorithm="ES256",
                headers={"kid": "gateway"},
            )
        )
        tokens["user token from the IdP"] = running_suite.token("supervisor.liu")
        tried += _check(
            running_suite,
            running_suite.suite.url(service) + path,
            control,
            tokens,
            f"internal/{service}",
            accepted,
        )

    # Oversized Authorization headers at the gateway and at each service.
    for size in (9_000, 20_000, 100_000):
        header = "Bearer " + "A" * size
        targets = [gateway_url] + [running_suite.suite.url(s) + p for s, p in SERVICE_PATHS.items()]
        for url in targets:
            tried += 1
            try:
                response = running_suite.client.get(url, headers={"authorization": header})
            except Exception:  # noqa: S112 - a dropped connection refuses the request too
                continue
            if response.status_code not in REFUSED:
                accepted.append(
                    f"oversized authorization {size} at {url} -> {response.status_code}"
                )

    line = report("jwt forgery", tried, accepted)
    assert accepted == [], line
