"""Key rotation with an overlap: every key of an issuer on file verifies, signers pick one."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from jose import jwt

from anxin_shared.auth import internal_verifier
from anxin_shared.errors import Unauthenticated
from anxin_shared.keys import (
    KeySet,
    _write_keypair,
    ensure_dev_keys,
    key_id_of,
    private_key_path,
    public_key_path,
    signing_key_id,
)
from anxin_shared.tokens import INTERNAL_ISSUER, TokenVerifier, service_issuer, service_signer


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    ensure_dev_keys(directory)
    return directory


def new_key(keys: Path, kid: str) -> None:
    _write_keypair(private_key_path(keys, kid), public_key_path(keys, kid))


def service_token(keys: Path, service: str, kid: str | None = None, audience: str = "") -> str:
    environ = {f"ANXIN_{service.upper()}_SIGNING_KEY_ID": kid} if kid else {}
    signer = service_signer(service, keys, environ)
    return signer.mint(f"service:{service}", audience or "anxin-audit", 60, kind="service")


def internal_token(keys: Path, kid: str | None = None) -> str:
    environ = {"ANXIN_GATEWAY_SIGNING_KEY_ID": kid} if kid else {}
    signer = service_signer("gateway", keys, environ)
    assert signer.issuer == INTERNAL_ISSUER
    return signer.mint("agent.li", "anxin-audit", 30, kind="user", subsidiary="life")


def refresh(verifier: TokenVerifier) -> None:
    for issuer in verifier.issuers.values():
        assert isinstance(issuer.keys, KeySet)
        issuer.keys.refresh()


def test_key_ids_come_from_file_names() -> None:
    assert key_id_of("gateway", "gateway.pub.pem") == "gateway"
    assert key_id_of("gateway", "gateway.2026-11.pub.pem") == "gateway.2026-11"
    assert key_id_of("audit", "audit-checkpoint.ed25519.pub.pem") is None
    assert key_id_of("audit", "audit.key.pem") is None
    assert key_id_of("gateway", "gateway.a.b.pub.pem") is None
    assert key_id_of("gateway", "gatewayx.pub.pem") is None


def test_the_signing_key_id_is_configured_per_service() -> None:
    assert signing_key_id("profile", {}) == "profile"
    assert signing_key_id("profile", {"ANXIN_PROFILE_SIGNING_KEY_ID": "profile.v2"}) == "profile.v2"
    with pytest.raises(ValueError):
        signing_key_id("profile", {"ANXIN_PROFILE_SIGNING_KEY_ID": "consent.v2"})
    with pytest.raises(ValueError):
        signing_key_id("profile", {"ANXIN_PROFILE_SIGNING_KEY_ID": "../profile"})


def test_a_signer_uses_the_configured_key_and_names_it(keys: Path) -> None:
    new_key(keys, "profile.v2")
    signer = service_signer("profile", keys, {"ANXIN_PROFILE_SIGNING_KEY_ID": "profile.v2"})
    assert signer.kid == "profile.v2" and signer.issuer == service_issuer("profile")
    with pytest.raises(FileNotFoundError):
        service_signer("profile", keys, {"ANXIN_PROFILE_SIGNING_KEY_ID": "profile.v3"})


def test_service_keys_overlap_then_the_old_one_is_refused(keys: Path) -> None:
    verifier = internal_verifier("audit", keys)
    old = service_token(keys, "profile")
    assert verifier.verify(old)["sub"] == "service:profile"

    # 1. Publish the new public key: accepted without a restart (once the folder is read
    #    again: at once on an unknown key id, at most every second), the old one still is.
    new_key(keys, "profile.v2")
    refresh(verifier)
    new = service_token(keys, "profile", "profile.v2")
    assert verifier.verify(new)["sub"] == "service:profile"
    assert verifier.verify(service_token(keys, "profile"))["sub"] == "service:profile"

    # 2. The signer moved to the new key; the old public key is removed after the overlap.
    public_key_path(keys, "profile").unlink()
    private_key_path(keys, "profile").unlink()
    refresh(verifier)
    with pytest.raises(FileNotFoundError):
        service_token(keys, "profile")  # the old private key is gone too
    assert verifier.verify(service_token(keys, "profile", "profile.v2"))["iss"] == "anxin-profile"


def test_a_token_signed_with_a_removed_key_is_refused(keys: Path) -> None:
    verifier = internal_verifier("audit", keys)
    new_key(keys, "consent.v2")
    refresh(verifier)
    stale = keys / "stale"
    stale.mkdir()
    shutil.copy(private_key_path(keys, "consent"), private_key_path(stale, "consent"))
    public_key_path(keys, "consent").unlink()
    refresh(verifier)
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(service_token(stale, "consent"))
    assert verifier.verify(service_token(keys, "consent", "consent.v2"))["sub"] == (
        "service:consent"
    )


def test_the_gateway_internal_token_rotates_too(keys: Path) -> None:
    verifier = internal_verifier("audit", keys)
    assert verifier.verify(internal_token(keys))["iss"] == INTERNAL_ISSUER
    new_key(keys, "gateway.2026-11")
    refresh(verifier)
    assert verifier.verify(internal_token(keys, "gateway.2026-11"))["sub"] == "agent.li"
    assert verifier.verify(internal_token(keys))["sub"] == "agent.li"
    public_key_path(keys, "gateway").unlink()
    refresh(verifier)
    with pytest.raises(Unauthenticated):
        verifier.verify(internal_token(keys))
    assert verifier.verify(internal_token(keys, "gateway.2026-11"))["sub"] == "agent.li"


def test_an_unknown_or_foreign_key_id_is_refused(keys: Path) -> None:
    verifier = internal_verifier("audit", keys)
    signer = service_signer("profile", keys, {})
    forged = type(signer)(issuer=signer.issuer, key=signer.key, kid="profile.nope")
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(forged.mint("service:profile", "anxin-audit", 60, kind="service"))
    # Consent's key id under profile's issuer: not one of profile's keys.
    foreign = type(signer)(issuer=signer.issuer, key=signer.key, kid="consent")
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(foreign.mint("service:profile", "anxin-audit", 60, kind="service"))
    # A token naming no key: fine with one key on file, refused once there are two.
    now = int(time.time())
    claims = {"iss": "anxin-profile", "sub": "service:profile", "aud": "anxin-audit"}
    claims |= {"iat": now, "exp": now + 60, "kind": "service"}
    no_kid = jwt.encode(claims, signer.key, algorithm="ES256")
    assert verifier.verify(no_kid)["sub"] == "service:profile"
    new_key(keys, "profile.v2")
    refresh(verifier)
    claims["jti"] = "second"
    with pytest.raises(Unauthenticated, match="names no key"):
        verifier.verify(jwt.encode(claims, signer.key, algorithm="ES256"))


def test_a_key_set_rereads_its_folder(tmp_path: Path) -> None:
    _write_keypair(tmp_path / "idp.key.pem", tmp_path / "idp.pub.pem")
    keys = KeySet(tmp_path, "idp", refresh_seconds=0.05, miss_seconds=0.0)
    assert set(keys) == {"idp"}
    _write_keypair(tmp_path / "idp.v2.key.pem", tmp_path / "idp.v2.pub.pem")
    assert "idp.v2" in keys  # a miss reads the folder again
    (tmp_path / "idp.pub.pem").unlink()
    time.sleep(0.06)
    assert set(keys) == {"idp.v2"}
    assert "v2" in keys and keys["v2"] is keys["idp.v2"], "an IdP's own kid: the bare suffix"
    assert "v9" not in keys and "idp" not in keys
    (tmp_path / "idp.v3.pub.pem").write_text("not a key")
    keys.refresh()
    assert set(keys) == {"idp.v2"}, "an unreadable key file is not trusted"
