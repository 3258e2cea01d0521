"""Signing the report (Ed25519) and checking a signed report."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_NAME = "compliance-report"
ALGORITHM = "Ed25519"


# Blocks added after signing: the signature itself, and the audit trail's attestation
# of the signed hash (which cannot be inside what it attests).
UNSIGNED = ("signature", "attestation")


def canonical(report: dict[str, Any]) -> bytes:
    """The bytes the signature covers: the report without its unsigned blocks, canonical JSON."""
    body = {key: value for key, value in report.items() if key not in UNSIGNED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_paths(keys_dir: Path) -> tuple[Path, Path]:
    """The private and public key files in a keys folder."""
    return keys_dir / f"{KEY_NAME}.ed25519.pem", keys_dir / f"{KEY_NAME}.ed25519.pub.pem"


def load_or_create_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """Load the signing key; in dev, generate it (mode 0600) the first time."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    if not create:
        raise FileNotFoundError(f"no report signing key at {path}")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = path.with_name(path.name.replace(".pem", ".pub.pem"))
    public.write_bytes(public_pem(key.public_key()).encode())
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key in PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """`compliance-report:<first 16 hex of SHA-256 of the raw public key>`."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{KEY_NAME}:{hashlib.sha256(raw).hexdigest()[:16]}"


def sign(report: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The report with a `signature` block over everything else."""
    payload = canonical(report)
    public = key.public_key()
    return {
        **report,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(public),
            "public_key_pem": public_pem(public),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "value": base64.b64encode(key.sign(payload)).decode(),
        },
    }


def verify(report: dict[str, Any], public_key: Ed25519PublicKey | None = None) -> str | None:
    """None when the signature holds (with the given key, else the embedded one), else why."""
    block = report.get("signature")
    if not isinstance(block, dict) or block.get("algorithm") != ALGORITHM:
        return "not signed with Ed25519"
    if public_key is None:
        loaded = serialization.load_pem_public_key(block["public_key_pem"].encode())
        if not isinstance(loaded, Ed25519PublicKey):
            return "the embedded key is not Ed25519"
        public_key = loaded
    if key_id(public_key) != block.get("key_id"):
        return "signed with another key"
    payload = canonical(report)
    if hashlib.sha256(payload).hexdigest() != block.get("sha256"):
        return "the report was changed after signing (hash mismatch)"
    try:
        public_key.verify(base64.b64decode(block["value"]), payload)
    except (InvalidSignature, ValueError):
        return "bad signature"
    return None
