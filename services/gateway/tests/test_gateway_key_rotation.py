"""The gateway trusts every key on file of the IdP and of each client: rotation with overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from anxin_gateway.authn import GATEWAY_AUDIENCE, build_verifier
from anxin_gateway.settings import GatewaySettings
from anxin_shared.errors import Unauthenticated
from anxin_shared.keys import KeySet, _write_keypair, ensure_dev_keys, load_key
from anxin_shared.tokens import TokenSigner

CLIENT = "life-claims-system"


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    ensure_dev_keys(tmp_path / "keys", [CLIENT])
    return GatewaySettings(env="dev", var_dir=tmp_path)


def signer(folder: Path, issuer: str, kid: str) -> TokenSigner:
    return TokenSigner(issuer=issuer, key=load_key(folder / f"{kid}.key.pem"), kid=kid)


def reread(verifier: object) -> None:
    for issuer in verifier.issuers.values():  # type: ignore[attr-defined]
        assert isinstance(issuer.keys, KeySet)
        issuer.keys.refresh()


def test_the_idp_key_rotates_with_an_overlap(settings: GatewaySettings) -> None:
    keys = Path(str(settings.keys_dir))
    verifier = build_verifier(settings, {CLIENT: {"subsidiary": "life"}})
    old = signer(keys, settings.idp_issuer, "idp")
    assert verifier.verify(old.mint("agent.li", GATEWAY_AUDIENCE, 600))["sub"] == "agent.li"
    _write_keypair(keys / "idp.2026-11.key.pem", keys / "idp.2026-11.pub.pem")
    reread(verifier)
    new = signer(keys, settings.idp_issuer, "idp.2026-11")
    assert verifier.verify(new.mint("agent.li", GATEWAY_AUDIENCE, 600))["sub"] == "agent.li"
    assert verifier.verify(old.mint("agent.wu", GATEWAY_AUDIENCE, 600))["sub"] == "agent.wu"
    (keys / "idp.pub.pem").unlink()
    reread(verifier)
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(old.mint("agent.zhou", GATEWAY_AUDIENCE, 600))
    assert verifier.verify(new.mint("agent.zhou", GATEWAY_AUDIENCE, 600))


def test_a_client_key_rotates_and_stays_bound_to_its_client(settings: GatewaySettings) -> None:
    clients = Path(str(settings.client_keys_dir))
    verifier = build_verifier(settings, {CLIENT: {"subsidiary": "life"}})
    old = signer(clients, CLIENT, CLIENT)
    _write_keypair(clients / f"{CLIENT}.v2.key.pem", clients / f"{CLIENT}.v2.pub.pem")
    reread(verifier)
    new = signer(clients, CLIENT, f"{CLIENT}.v2")
    for token_signer in (old, new):
        assert verifier.verify(token_signer.mint(CLIENT, GATEWAY_AUDIENCE, 600))["sub"] == CLIENT
    with pytest.raises(Unauthenticated):
        verifier.verify(new.mint("bank-crm-system", GATEWAY_AUDIENCE, 600))
    (clients / f"{CLIENT}.pub.pem").unlink()
    reread(verifier)
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(old.mint(CLIENT, GATEWAY_AUDIENCE, 60))
    unknown = TokenSigner(issuer=CLIENT, key=new.key, kid=f"{CLIENT}.v9")
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(unknown.mint(CLIENT, GATEWAY_AUDIENCE, 60))
