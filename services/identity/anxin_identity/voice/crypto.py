"""Embeddings at rest: AES-256-GCM, bound to the row they belong to.

The key is 32 random bytes, read from `ANXIN_IDENTITY_VOICEPRINT_KEY` (base64)
or from `voiceprint.key` in the keys directory. In dev a missing key file is
generated (mode 0600); elsewhere a missing key refuses to start the voice
routes. The associated data names the table, the row id and the owner, so a
ciphertext copied onto another customer's row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.settings import ConfigurationError

KEY_FILE = "voiceprint.key"
NONCE_BYTES = 12


class EmbeddingCipher:
    """Encrypts and decrypts float32 embeddings with one AES-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigurationError("the voiceprint key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        # Which key sealed a row (for rotation); a hash prefix reveals nothing of the key.
        self.key_id = hashlib.sha256(b"anxin-voiceprint-key-id" + key).hexdigest()[:16]

    def seal(self, embedding: np.ndarray, associated: str) -> bytes:
        """nonce || ciphertext+tag of the little-endian float32 vector."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        plain = np.asarray(embedding, dtype="<f4").tobytes()
        return nonce + self._aead.encrypt(nonce, plain, associated.encode("utf-8"))

    def open(self, sealed: bytes, associated: str) -> np.ndarray:
        """The embedding back; 503 if it was sealed with another key or tampered with."""
        try:
            plain = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated.encode("utf-8")
            )
        except InvalidTag as exc:
            raise DependencyUnavailable("a stored voiceprint cannot be decrypted") from exc
        return np.frombuffer(plain, dtype="<f4").copy()


def load_cipher(configured: str | None, keys_dir: Path, is_dev: bool) -> EmbeddingCipher:
    """The cipher from the configured key, else the key file (generated in dev only)."""
    if configured:
        try:
            key = base64.b64decode(configured, validate=True)
        except ValueError as exc:
            raise ConfigurationError("ANXIN_IDENTITY_VOICEPRINT_KEY is not base64") from exc
        return EmbeddingCipher(key)
    path = keys_dir / KEY_FILE
    if not path.exists():
        if not is_dev:
            raise ConfigurationError(
                f"no voiceprint key: set ANXIN_IDENTITY_VOICEPRINT_KEY or provide {path}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker of this process group just made it
            pass
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)))
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a base64 key") from exc
    return EmbeddingCipher(key)
