"""Taking signed checkpoints (every N events, every T seconds, at each archive) and
exporting them to external anchors (an append-only file, a URL)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session

from anxin_audit.checkpoints import repository
from anxin_audit.checkpoints.models import AuditCheckpoint
from anxin_audit.checkpoints.signing import Checkpoint, sign_checkpoint
from anxin_audit.events import repository as records
from anxin_shared.db import Database

logger = logging.getLogger("anxin.audit.checkpoints")
ANCHOR_CURSOR = "anchor"


def utc_timestamp() -> str:
    """The time a checkpoint states (ISO 8601, UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Checkpointer:
    """Signs checkpoints with the audit service's Ed25519 key."""

    key: Ed25519PrivateKey
    every_events: int
    partition: str = records.PARTITION

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The verifying half."""
        return self.key.public_key()

    def take(self, session: Session, seq: int, head_hash: str, kind: str) -> Checkpoint:
        """Sign and store a checkpoint of the head (the caller holds the sequencer)."""
        checkpoint = sign_checkpoint(
            self.key,
            checkpoint_no=repository.next_number(session),
            partition=self.partition,
            seq=seq,
            head_hash=head_hash,
            taken_at=utc_timestamp(),
            kind=kind,
        )
        repository.add(session, AuditCheckpoint(**checkpoint.as_dict()))
        return checkpoint

    def after_append(self, session: Session, old_seq: int, new_seq: int, new_hash: str) -> None:
        """Take the every-N-events checkpoint when an append crossed a multiple of N."""
        if new_seq // self.every_events > old_seq // self.every_events:
            self.take(session, new_seq, new_hash, "periodic")

    def if_stale(self, session: Session, max_age_seconds: float) -> Checkpoint | None:
        """The every-T-seconds checkpoint: sign the head if it moved and the last one is old."""
        head = records.lock_head(session)
        last = repository.latest(session)
        if head.seq == 0 or (last is not None and last.seq >= head.seq):
            return None
        if last is not None:
            age = datetime.now(UTC) - datetime.fromisoformat(last.taken_at.replace("Z", "+00:00"))
            if age.total_seconds() < max_age_seconds:
                return None
        return self.take(session, head.seq, head.hash, "periodic")


def _append_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())


async def export_to_anchors(
    database: Database,
    anchor_file: Path | None,
    anchor_url: str | None,
    http: httpx.AsyncClient | None,
    batch: int = 200,
) -> int:
    """Append new checkpoints to the anchor file and POST them to the anchor URL.

    The cursor moves only after both succeeded, so an anchor may see a checkpoint
    twice after a crash, never miss one.
    """
    if anchor_file is None and anchor_url is None:
        return 0
    with database.session() as session:
        position = records.cursor(session, ANCHOR_CURSOR)
        pending = [row.as_checkpoint() for row in repository.after_number(session, position, batch)]
    if not pending:
        return 0
    lines = [json.dumps(cp.as_dict(), sort_keys=True, separators=(",", ":")) for cp in pending]
    if anchor_file is not None:
        _append_lines(anchor_file, lines)
    if anchor_url is not None and http is not None:
        response = await http.post(
            anchor_url, json={"checkpoints": [cp.as_dict() for cp in pending]}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"the anchor URL answered {response.status_code}")
    with database.session() as session:
        records.save_cursor(session, ANCHOR_CURSOR, pending[-1].checkpoint_no)
    return len(pending)
