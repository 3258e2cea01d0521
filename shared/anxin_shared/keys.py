"""Signing keys: generated for dev under `var/keys/`, read from files otherwise.

Keys are EC P-256 (ES256): signing costs tens of microseconds, so the gateway
can mint an internal token per request (RSA from PEM costs ~50 ms; see
DESIGN.md). Keys are parsed once and kept as `jose` key objects.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from jose.backends.base import Key

DEV_KEYS_MARKER = "DEV-KEYS"
ALGORITHM = "ES256"
DEV_KEY_NAMES = ("idp", "gateway", "identity", "consent", "profile", "audit")


def private_key_path(keys_dir: Path, name: str) -> Path:
    """Where the private key of `name` lives."""
    return keys_dir / f"{name}.key.pem"


def public_key_path(keys_dir: Path, name: str) -> Path:
    """Where the public key of `name` lives."""
    return keys_dir / f"{name}.pub.pem"


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        os.write(handle, data)
    finally:
        os.close(handle)
    os.replace(tmp, path)


def _write_keypair(private_path: Path, public_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    # Public first: whoever sees the private key also finds its public half.
    _atomic_write(public_path, public_pem, 0o644)
    _atomic_write(private_path, private_pem, 0o600)


def ensure_dev_keys(keys_dir: Path, clients: list[str] | tuple[str, ...] = ()) -> None:
    """Generate any missing dev key pair (services, dev IdP, demo clients). Dev only."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    # Several services may start at once on one var dir: one of them generates.
    with (keys_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = keys_dir / DEV_KEYS_MARKER
        if not marker.exists():
            marker.write_text(
                "Keys in this folder were generated for development. "
                "Never use them in production.\n"
            )
        for name in DEV_KEY_NAMES:
            if not private_key_path(keys_dir, name).exists():
                _write_keypair(private_key_path(keys_dir, name), public_key_path(keys_dir, name))
        for client in clients:
            priv = keys_dir / "clients" / f"{client}.key.pem"
            if not priv.exists():
                _write_keypair(priv, keys_dir / "clients" / f"{client}.pub.pem")


def load_key(path: Path) -> Key:
    """Parse a PEM key file once into a jose key object for ES256."""
    return jwk.construct(path.read_text(), ALGORITHM)
