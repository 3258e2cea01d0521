"""The chain: canonical encoding, hashing, and verification.

Each record's hash covers its sequence number, the previous record's hash and
the canonical JSON of the event (sorted keys, no spaces, UTF-8), so editing,
deleting, inserting, duplicating or reordering any record breaks every hash
after it. What a re-hash of the whole chain (by someone with database access)
or a truncated tail leaves intact, the signed checkpoints catch: the chain must
reach every checkpoint's sequence with exactly the checkpoint's head hash.

This module is pure (no database, no service): `anxin audit verify` uses it on
exports and external anchor files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from anxin_audit.checkpoints.signing import Checkpoint, signature_problem

GENESIS_HASH = "0" * 64
Row = tuple[int, str, str, str]  # (seq, prev_hash, hash, body)


def canonical(event: dict[str, Any]) -> str:
    """The one encoding that is hashed: JSON, sorted keys, no spaces, UTF-8.

    Byte for byte what `json.dumps(event, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` writes for an event's JSON values, only faster.
    """
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # e.g. a lone surrogate, which orjson refuses
        return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(seq: int, prev_hash: str, body: str) -> str:
    """The hash of record `seq`."""
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{body}".encode()).hexdigest()


def body_event_id(body: str) -> str | None:
    """The event id inside a canonical body, without parsing the whole JSON."""
    start = body.find('"event_id":"')
    if start < 0:
        return None
    start += 12
    return body[start : body.find('"', start)]


@dataclass(frozen=True)
class ChainReport:
    """What verification found."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints_verified: int = 0
    start_seq: int = 1


class ChainVerifier:
    """Verifies rows fed in sequence order, against signed checkpoints.

    `start` is where the stored chain begins: nothing (genesis), or the signed
    checkpoint an archive left behind. `checkpoints` are stored or external
    anchors; each must verify under `public_key` and the chain must hold their
    head hash at their sequence. `max_unanchored` bounds how many records may
    follow the last checkpoint (the interval plus one batch), so deleting the
    stored checkpoints after re-hashing the chain is noticed too.
    """

    def __init__(
        self,
        *,
        public_key: Ed25519PublicKey | None = None,
        checkpoints: Iterable[Checkpoint] = (),
        start: Checkpoint | None = None,
        max_unanchored: int | None = None,
        expected_prev_hash: str | None = None,
        first_seq: int | None = None,
        check_tail: bool = True,
    ) -> None:
        self.public_key = public_key
        self.max_unanchored = max_unanchored
        self.check_tail = check_tail
        self.expected_prev = GENESIS_HASH
        self.expected_seq = 1
        self.records = 0
        self.failure: ChainReport | None = None
        self.checkpoints_verified = 0
        self.last_anchor_seq = 0
        self._event_ids: set[str] = set()
        candidates = sorted(checkpoints, key=lambda cp: (cp.seq, cp.checkpoint_no))
        if start is not None:
            candidates = [start, *candidates]
        for checkpoint in candidates:
            if public_key is None:
                self.fail(checkpoint.seq, "no public key to verify the checkpoints with")
                break
            problem = signature_problem(checkpoint, public_key)
            if problem is not None:
                self.fail(checkpoint.seq, problem)
                break
        if start is not None:
            self.expected_prev = start.head_hash
            self.expected_seq = start.seq + 1
            self.last_anchor_seq = start.seq
            self.checkpoints_verified += 1
        if first_seq is not None and first_seq > self.expected_seq:
            # A range after one the caller verified: it vouches for the hash before it.
            self.expected_seq = first_seq
            self.expected_prev = expected_prev_hash or self.expected_prev
            self.last_anchor_seq = first_seq - 1
        self.start_seq = self.expected_seq
        self._pending = [cp for cp in candidates if cp is not start and cp.seq >= self.start_seq]

    # -------------------------------------------------------------------------
    def fail(self, seq: int, problem: str) -> None:
        """Record the first problem found."""
        if self.failure is None:
            self.failure = ChainReport(
                False,
                self.records,
                self.expected_seq - 1,
                self.expected_prev,
                seq,
                problem,
                self.checkpoints_verified,
            )

    @property
    def failed(self) -> bool:
        """True once a problem was found (later rows are ignored)."""
        return self.failure is not None

    def feed(self, rows: Iterable[Row]) -> bool:
        """Check more rows; False as soon as the chain is broken."""
        if self.failure is not None:
            return False
        expected_prev, expected_seq = self.expected_prev, self.expected_seq
        pending = self._pending
        next_anchor = pending[0].seq if pending else None
        seen = self._event_ids
        for seq, prev_hash, stored_hash, body in rows:
            self.records += 1
            if seq != expected_seq:
                self.expected_prev, self.expected_seq = expected_prev, expected_seq
                if seq < expected_seq:
                    problem = f"sequence {seq} repeats or goes back (expected {expected_seq})"
                else:
                    problem = f"sequence gap: expected {expected_seq}, found {seq}"
                self.fail(expected_seq, problem)
                return False
            if prev_hash != expected_prev:
                self.expected_prev, self.expected_seq = expected_prev, expected_seq
                self.fail(seq, "previous hash does not match")
                return False
            if record_hash(seq, prev_hash, body) != stored_hash:
                self.expected_prev, self.expected_seq = expected_prev, expected_seq
                self.fail(seq, "record hash does not match")
                return False
            event_id = body_event_id(body)
            if event_id is not None:
                if event_id in seen:
                    self.expected_prev, self.expected_seq = expected_prev, expected_seq
                    self.fail(seq, "an event id appears twice (duplicated record)")
                    return False
                seen.add(event_id)
            while next_anchor is not None and next_anchor == seq:
                checkpoint = pending.pop(0)
                if checkpoint.head_hash != stored_hash:
                    self.expected_prev, self.expected_seq = expected_prev, expected_seq
                    self.fail(
                        self.last_anchor_seq + 1,
                        f"the chain differs from signed checkpoint #{checkpoint.checkpoint_no} "
                        f"at seq {checkpoint.seq} (re-hashed or rewritten after seq "
                        f"{self.last_anchor_seq})",
                    )
                    return False
                self.checkpoints_verified += 1
                self.last_anchor_seq = seq
                next_anchor = pending[0].seq if pending else None
            expected_prev, expected_seq = stored_hash, seq + 1
        self.expected_prev, self.expected_seq = expected_prev, expected_seq
        return True

    def finish(self) -> ChainReport:
        """The verdict once every row was fed."""
        if self.failure is not None:
            return self.failure
        head_seq = self.expected_seq - 1
        if self.check_tail:
            beyond = [cp for cp in self._pending if cp.seq > head_seq]
            if beyond:
                checkpoint = beyond[-1]
                self.fail(
                    head_seq + 1,
                    f"the chain ends at seq {head_seq} but signed checkpoint "
                    f"#{checkpoint.checkpoint_no} covers seq {checkpoint.seq} (tail truncated)",
                )
                assert self.failure is not None
                return self.failure
            if (
                self.max_unanchored is not None
                and head_seq - self.last_anchor_seq > self.max_unanchored
            ):
                self.fail(
                    self.last_anchor_seq + 1,
                    f"{head_seq - self.last_anchor_seq} records follow the last signed "
                    f"checkpoint (seq {self.last_anchor_seq}); at most {self.max_unanchored} "
                    "may (checkpoints deleted?)",
                )
                assert self.failure is not None
                return self.failure
        return ChainReport(
            True,
            self.records,
            head_seq,
            self.expected_prev,
            None,
            None,
            self.checkpoints_verified,
            self.start_seq,
        )


def verify_records(
    records: Iterable[Row],
    *,
    public_key: Ed25519PublicKey | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    start: Checkpoint | None = None,
    max_unanchored: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 50_000,
) -> ChainReport:
    """Verify (seq, prev_hash, hash, body) rows in sequence order."""
    verifier = ChainVerifier(
        public_key=public_key,
        checkpoints=checkpoints,
        start=start,
        max_unanchored=max_unanchored,
    )
    batch: list[Row] = []
    for row in records:
        batch.append(row)
        if len(batch) >= chunk:
            if not verifier.feed(batch):
                return verifier.finish()
            if on_progress is not None:
                on_progress(verifier.records)
            batch = []
    verifier.feed(batch)
    if on_progress is not None:
        on_progress(verifier.records)
    return verifier.finish()
