"""The reasons in security/dependency-exceptions.yaml that can be checked, checked.

ecdsa (PYSEC-2026-1325, a timing side channel in python-ecdsa's own signing) is
excepted because Anxin's ES256 keys are cryptography-backed jose keys: these tests
fail if jose ever builds an ecdsa-backed key for them, or needs ecdsa to sign or
verify a token.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from jose import jwk
from jose.backends.cryptography_backend import CryptographyECKey

from anxin_shared.keys import (
    ALGORITHM,
    ensure_dev_keys,
    load_key,
    private_key_path,
    public_key_path,
)

ROOT = Path(__file__).resolve().parent.parent


def test_anxin_es256_keys_are_cryptography_backed(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path)
    assert ALGORITHM == "ES256"
    assert jwk.get_key(ALGORITHM) is CryptographyECKey
    for path in (private_key_path(tmp_path, "idp"), public_key_path(tmp_path, "idp")):
        assert type(load_key(path)) is CryptographyECKey


def test_tokens_are_signed_and_verified_without_ecdsa(tmp_path: Path) -> None:
    program = textwrap.dedent(
        f"""
        import sys
        sys.modules["ecdsa"] = None  # any import of ecdsa now raises ImportError
        from pathlib import Path
        from anxin_shared.keys import ensure_dev_keys, load_key, private_key_path
        from anxin_shared.keys import public_key_path
        from anxin_shared.tokens import IssuerConfig, TokenSigner, TokenVerifier
        keys = Path({str(tmp_path)!r})
        ensure_dev_keys(keys)
        signer = TokenSigner("idp", load_key(private_key_path(keys, "idp")), "idp")
        token = signer.mint("agent.li", "anxin-gateway", 600)
        issuer = IssuerConfig("idp", {{"idp": load_key(public_key_path(keys, "idp"))}})
        claims = TokenVerifier({{"idp": issuer}}, "anxin-gateway").verify(token)
        assert claims["sub"] == "agent.li"
        assert not any(name.split(".")[0] == "ecdsa" for name, mod in sys.modules.items() if mod)
        print("signed and verified without ecdsa")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "signed and verified without ecdsa"
