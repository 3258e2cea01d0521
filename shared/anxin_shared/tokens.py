"""JWT verification and minting.

Every token is checked the same way, whoever issued it:

* the issuer is read from the unverified claims only to *choose* its entry in a
  static registry; an unknown issuer is rejected;
* the algorithm is pinned per issuer (python-jose would otherwise accept the
  algorithm the header names, e.g. HS256 keyed with a public key);
* `jku`, `x5u`, `jwk`, `x5c` and `crit` headers are refused; `kid` is only ever a
  lookup key in the issuer's own static key set;
* `exp`, `iat`, `iss`, `aud` and `sub` are required (python-jose does not
  require `exp` or reject a missing `aud` by itself), `nbf` is honoured, and the
  lifetime `exp - iat` is capped per issuer;
* an issuer may bind its subject (a subsidiary client's key only signs for
  that client).

Verified tokens are cached by their SHA-256 until they expire, so a hot path
verifies a client token once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jose import jwt
from jose.backends.base import Key
from jose.exceptions import JOSEError

from anxin_shared.errors import Unauthenticated

MAX_TOKEN_BYTES = 8192
INTERNAL_ISSUER = "anxin-gateway"
INTERNAL_TOKEN_LIFETIME = 30
MAX_INTERNAL_LIFETIME = 60
SERVICE_TOKEN_LIFETIME = 60
CLOCK_SKEW_SECONDS = 30
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"})
_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")


@dataclass(frozen=True)
class IssuerConfig:
    """One trusted issuer: its pinned algorithms, its static keys and its limits."""

    issuer: str
    keys: Mapping[str, Key]
    algorithms: tuple[str, ...] = ("ES256",)
    max_lifetime_seconds: int = 3600
    bound_subject: str | None = None

    def key_for(self, kid: object) -> Key:
        """The key for `kid`; a token without `kid` works only with a single-key issuer."""
        if kid is None:
            if len(self.keys) == 1:
                return next(iter(self.keys.values()))
            raise Unauthenticated("token names no key")
        if not isinstance(kid, str) or kid not in self.keys:
            raise Unauthenticated("token names an unknown key")
        return self.keys[kid]


def _b64_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


@dataclass
class TokenVerifier:
    """Verifies bearer tokens against a static set of issuers for one audience."""

    issuers: Mapping[str, IssuerConfig]
    audience: str
    cache_size: int = 10000
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims, or raise `Unauthenticated`."""
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated("token missing or too large")
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        now = time.time()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = self._verify_uncached(token, now)
        with self._lock:
            if len(self._cache) >= self.cache_size:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
            self._cache[digest] = (float(claims["exp"]), claims)
        return claims

    def _verify_uncached(self, token: str, now: float) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise Unauthenticated("malformed token")
        try:
            header = _b64_json(parts[0])
            unverified = _b64_json(parts[1])
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unauthenticated("malformed token") from exc
        if _FORBIDDEN_HEADERS & set(header):
            raise Unauthenticated("token header names a key source we never use")
        issuer_name = unverified.get("iss")
        issuer = self.issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if issuer is None:
            raise Unauthenticated("unknown token issuer")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise Unauthenticated("token algorithm not allowed for this issuer")
        key = issuer.key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(issuer.algorithms),
                audience=self.audience,
                issuer=issuer.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_iss": True,
                    "require_aud": True,
                    "require_sub": True,
                    "leeway": CLOCK_SKEW_SECONDS,
                },
            )
        except (JOSEError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("token rejected") from exc
        for claim in _REQUIRED_CLAIMS:
            if claim not in claims:
                raise Unauthenticated(f"token lacks {claim}")
        if not isinstance(claims["aud"], str):
            raise Unauthenticated("token audience must be a single service")
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise Unauthenticated("token times are not numbers")
        if exp - iat > issuer.max_lifetime_seconds:
            raise Unauthenticated("token lifetime exceeds the issuer's maximum")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("token issued in the future")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthenticated("token subject missing")
        if issuer.bound_subject is not None and claims["sub"] != issuer.bound_subject:
            raise Unauthenticated("issuer may not sign for this subject")
        return claims


@dataclass(frozen=True)
class TokenSigner:
    """Mints ES256 tokens with a key parsed once."""

    issuer: str
    key: Key
    kid: str
    algorithm: str = "ES256"

    def mint(self, subject: str, audience: str, lifetime: int, **claims: Any) -> str:
        """A signed token for `subject` and `audience`, valid `lifetime` seconds."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        headers = {"kid": self.kid}
        return str(jwt.encode(payload, self.key, algorithm=self.algorithm, headers=headers))


def service_signer(
    service: str, keys_dir: Path, environ: Mapping[str, str] | None = None
) -> TokenSigner:
    """A service's own signer: the key id from `ANXIN_<SERVICE>_SIGNING_KEY_ID` (default the
    service name), the private key `<kid>.key.pem` in `keys_dir`."""
    from anxin_shared.keys import load_key, private_key_path, signing_key_id

    kid = signing_key_id(service, environ)
    return TokenSigner(
        issuer=service_issuer(service), key=load_key(private_key_path(keys_dir, kid)), kid=kid
    )


def service_issuer(service: str) -> str:
    """The issuer name of a service's own tokens (service-to-service calls)."""
    return f"anxin-{service}"
