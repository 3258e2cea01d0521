"""Ed25519 checkpoint signatures: the key, the signed message, and verification.

Pure functions over `cryptography`, so `anxin audit verify` can check an
exported chain or an external anchor file without the service. A checkpoint
signs (partition, number, sequence, head hash, time, kind, key id) in one
canonical JSON encoding; whoever can rewrite the database but does not hold
the private key cannot produce a checkpoint that verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_NAME = "audit-checkpoint.ed25519"


class CheckpointKeyMissing(RuntimeError):
    """Outside dev the checkpoint key must be provisioned; it is never generated."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain's head at `seq` had hash `head_hash` at `taken_at`."""

    checkpoint_no: int
    partition: str
    seq: int
    head_hash: str
    taken_at: str
    kind: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        """The bytes that are signed."""
        return signed_message(
            self.checkpoint_no,
            self.partition,
            self.seq,
            self.head_hash,
            self.taken_at,
            self.kind,
            self.key_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the anchor file and the export hold)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Parse a checkpoint from its JSON form; raise ValueError when malformed."""
        try:
            return cls(
                checkpoint_no=int(data["checkpoint_no"]),
                partition=str(data["partition"]),
                seq=int(data["seq"]),
                head_hash=str(data["head_hash"]),
                taken_at=str(data["taken_at"]),
                kind=str(data["kind"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("not a checkpoint") from exc


def signed_message(
    checkpoint_no: int,
    partition: str,
    seq: int,
    head_hash: str,
    taken_at: str,
    kind: str,
    key_id: str,
) -> bytes:
    """Canonical JSON of the signed fields (versioned, sorted keys, no spaces)."""
    fields = {
        "v": 1,
        "checkpoint_no": checkpoint_no,
        "partition": partition,
        "seq": seq,
        "head_hash": head_hash,
        "taken_at": taken_at,
        "kind": kind,
        "key_id": key_id,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key (first 16 hex digits of its SHA-256)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_path(private_path: Path) -> Path:
    """`….ed25519.pem` → `….ed25519.pub.pem`."""
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        os.write(handle, data)
    finally:
        os.close(handle)
    os.replace(tmp, path)


def load_signing_key(path: Path, *, generate: bool) -> Ed25519PrivateKey:
    """The checkpoint key at `path`; generated there (with its public half) only if allowed."""
    if not path.exists():
        if not generate:
            raise CheckpointKeyMissing(f"the audit checkpoint key {path} is missing")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _atomic_write(public_key_path(path), public_pem, 0o644)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # A concurrent first start may have won the race: keep whichever landed first.
        if not path.exists():
            _atomic_write(path, private_pem, 0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointKeyMissing(f"{path} is not an Ed25519 private key")
    public_path = public_key_path(path)
    if not public_path.exists():
        public_pem = loaded.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _atomic_write(public_path, public_pem, 0o644)
    return loaded


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A verifier's copy of the checkpoint public key (PEM)."""
    loaded = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return loaded


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """PEM text of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign_checkpoint(
    key: Ed25519PrivateKey,
    *,
    checkpoint_no: int,
    partition: str,
    seq: int,
    head_hash: str,
    taken_at: str,
    kind: str,
) -> Checkpoint:
    """Sign a new checkpoint."""
    kid = key_id(key.public_key())
    message = signed_message(checkpoint_no, partition, seq, head_hash, taken_at, kind, kid)
    return Checkpoint(
        checkpoint_no=checkpoint_no,
        partition=partition,
        seq=seq,
        head_hash=head_hash,
        taken_at=taken_at,
        kind=kind,
        key_id=kid,
        signature=key.sign(message).hex(),
    )


def signature_problem(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> str | None:
    """Why this checkpoint does not verify under `public_key`, or None when it does."""
    if checkpoint.key_id != key_id(public_key):
        return f"checkpoint #{checkpoint.checkpoint_no} names another signing key"
    try:
        public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        return f"checkpoint #{checkpoint.checkpoint_no} has an invalid signature"
    return None


def read_anchor_file(path: Path) -> list[Checkpoint]:
    """Every checkpoint in an anchor file (JSON lines, as the service appends them)."""
    found: list[Checkpoint] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            found.append(Checkpoint.from_dict(json.loads(line)))
    return found
