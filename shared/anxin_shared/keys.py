"""Signing keys: generated for dev under `var/keys/`, read from files otherwise.

Keys are EC P-256 (ES256): signing costs tens of microseconds, so the gateway
can mint an internal token per request (RSA from PEM costs ~50 ms; see
DESIGN.md). Keys are parsed once and kept as `jose` key objects.

Rotation without downtime: an issuer `<name>` may have several public keys in
a folder, `<name>.pub.pem` and `<name>.<suffix>.pub.pem`; each one's key id
(`kid`) is its file name without `.pub.pem` (`gateway`, `gateway.2026-11`).
Verifiers accept every key on file (`KeySet`, re-read while running; a token
may also name a key by its bare suffix, for an external IdP's own key ids), and a
signer signs with one configured key id (`ANXIN_<SERVICE>_SIGNING_KEY_ID`,
default the service name; private key `<kid>.key.pem`). So: publish the new
public key everywhere, switch the signer, and remove the old public key after
the longest token lifetime.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from jose.backends.base import Key
from jose.exceptions import JOSEError

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


_SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")
PUBLIC_SUFFIX = ".pub.pem"


def key_id_of(name: str, file_name: str) -> str | None:
    """The key id of `file_name` if it is one of `name`'s public keys, else None."""
    if not file_name.endswith(PUBLIC_SUFFIX):
        return None
    kid = file_name[: -len(PUBLIC_SUFFIX)]
    if kid == name:
        return kid
    head, dot, suffix = kid.partition(".")
    if head == name and dot and _SUFFIX.fullmatch(suffix):
        return kid
    return None


def load_public_keys(directory: Path, name: str) -> dict[str, Key]:
    """Every public key of issuer `name` in `directory`, by key id (may be empty)."""
    keys: dict[str, Key] = {}
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return keys
    for path in entries:
        kid = key_id_of(name, path.name)
        if kid is not None and path.is_file():
            keys[kid] = load_key(path)
    return keys


class KeySet(Mapping[str, Key]):
    """The public keys of one issuer in a folder, kept current while the process runs.

    The folder is read again when `refresh_seconds` have passed, and at once
    (at most every `miss_seconds`) when a token names a key id not yet known, so
    a newly published key is accepted without a restart and a removed one is
    refused after at most `refresh_seconds`.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        refresh_seconds: float = 10.0,
        miss_seconds: float = 1.0,
    ) -> None:
        self.directory = directory
        self.name = name
        self.refresh_seconds = refresh_seconds
        self.miss_seconds = miss_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}
        self._signatures: dict[str, tuple[int, int]] = {}
        self._read_at = float("-inf")
        self.refresh()

    def _scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return found
        for path in entries:
            kid = key_id_of(self.name, path.name)
            if kid is not None:
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found[kid] = (stat.st_mtime_ns, stat.st_size)
        return found

    def refresh(self) -> None:
        """Read the folder again (only changed files are parsed again)."""
        with self._lock:
            found = self._scan()
            keys: dict[str, Key] = {}
            for kid, signature in found.items():
                if kid in self._keys and self._signatures.get(kid) == signature:
                    keys[kid] = self._keys[kid]
                    continue
                try:
                    keys[kid] = load_key(self.directory / f"{kid}{PUBLIC_SUFFIX}")
                except (OSError, JOSEError, ValueError, TypeError):
                    continue  # half-written or unreadable: not trusted, tried next time
            self._keys, self._signatures = keys, found
            self._read_at = time.monotonic()

    def _current(self) -> dict[str, Key]:
        if time.monotonic() - self._read_at >= self.refresh_seconds:
            self.refresh()
        return self._keys

    def _find(self, keys: Mapping[str, Key], kid: str) -> Key | None:
        # `<name>.<suffix>` or the bare suffix (an external IdP's own opaque key id,
        # filed as `idp.<its kid>.pub.pem`): both name one of this issuer's keys.
        return keys.get(kid) or keys.get(f"{self.name}.{kid}")

    def __getitem__(self, kid: str) -> Key:
        key = self._find(self._current(), kid)
        if key is None:
            raise KeyError(kid)
        return key

    def __contains__(self, kid: object) -> bool:
        if not isinstance(kid, str):
            return False
        if self._find(self._current(), kid) is not None:
            return True
        if time.monotonic() - self._read_at >= self.miss_seconds:
            self.refresh()
            return self._find(self._keys, kid) is not None
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._current()))

    def __len__(self) -> int:
        return len(self._current())


def signing_key_id(service: str, environ: Mapping[str, str] | None = None) -> str:
    """The key id `service` signs with: `ANXIN_<SERVICE>_SIGNING_KEY_ID`, default the name."""
    environ = os.environ if environ is None else environ
    kid = environ.get(f"ANXIN_{service.upper()}_SIGNING_KEY_ID", "").strip() or service
    if key_id_of(service, kid + PUBLIC_SUFFIX) is None:
        raise ValueError(
            f"ANXIN_{service.upper()}_SIGNING_KEY_ID must be {service!r} or {service!r}.<suffix>"
        )
    return kid
