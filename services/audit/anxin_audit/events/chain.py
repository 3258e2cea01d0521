"""The chain: canonical encoding, hashing, and verification.

Each record's hash covers its sequence number, the previous record's hash and
the canonical JSON of the event (sorted keys, no spaces, UTF-8), so editing,
deleting, inserting or reordering any record breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64


def canonical(event: dict[str, Any]) -> str:
    """The one encoding that is hashed."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(seq: int, prev_hash: str, body: str) -> str:
    """The hash of record `seq`."""
    digest = hashlib.sha256()
    digest.update(f"{seq}\n{prev_hash}\n".encode())
    digest.update(body.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What verification found."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_records(records: Iterable[tuple[int, str, str, str]]) -> ChainReport:
    """Verify (seq, prev_hash, hash, body) rows in sequence order."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for seq, prev_hash, stored_hash, body in records:
        count += 1
        if seq != expected_seq:
            return ChainReport(
                False, count, seq, stored_hash, seq, f"sequence gap: expected {expected_seq}"
            )
        if prev_hash != expected_prev:
            return ChainReport(False, count, seq, stored_hash, seq, "previous hash does not match")
        if record_hash(seq, prev_hash, body) != stored_hash:
            return ChainReport(False, count, seq, stored_hash, seq, "record hash does not match")
        expected_prev, expected_seq = stored_hash, seq + 1
    return ChainReport(True, count, expected_seq - 1, expected_prev)
