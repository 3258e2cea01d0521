"""Retention: archive expired records, only together with a signed checkpoint.

The archived prefix is verified, written to an archive file (the export
format, so `anxin audit verify --export` checks it offline), signed at its last
record by an "archive" checkpoint, recorded, and only then deleted; the
database refuses any delete beyond the newest archive's `through_seq`. The
stored chain then verifies from that checkpoint onwards.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

from anxin_audit.checkpoints import repository as checkpoints
from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.events import repository as records
from anxin_audit.events.chain import ChainVerifier
from anxin_audit.events.export import write_export
from anxin_audit.events.service import APPEND_LOCK
from anxin_audit.retention import repository
from anxin_audit.retention.models import AuditArchive
from anxin_audit.retention.schemas import ArchivePublic
from anxin_audit.settings import AuditSettings
from anxin_shared.db import Database
from anxin_shared.errors import Conflict


def archive_expired(
    database: Database, settings: AuditSettings, checkpointer: Checkpointer
) -> ArchivePublic:
    """Archive every record older than the retention period, with a signed checkpoint."""
    cutoff = datetime.now(UTC) - timedelta(days=settings.retention_days)
    assert settings.archive_dir is not None
    with APPEND_LOCK, database.session() as session:
        through = repository.last_seq_before(session, cutoff)
        previous = repository.latest(session)
        already = previous.through_seq if previous else 0
        if through is None or through <= already:
            raise Conflict("no record is past the retention period")
        start = None
        if previous is not None:
            stored = checkpoints.get(session, previous.checkpoint_no)
            start = stored.as_checkpoint() if stored else None
        anchors = [cp.as_checkpoint() for cp in checkpoints.between(session, already + 1, through)]
        verifier = ChainVerifier(
            public_key=checkpointer.public_key, checkpoints=anchors, start=start, check_tail=False
        )
        for rows in records.iter_chain_rows(session, already + 1, through):
            if not verifier.feed(rows):
                break
        report = verifier.finish()
        if not report.ok or report.head_seq != through:
            raise Conflict(
                f"the records to archive do not verify (first bad seq {report.first_bad_seq}); "
                "nothing was archived"
            )
        signed = checkpointer.take(session, through, report.head_hash, "archive")
        number = repository.next_number(session)
        settings.archive_dir.mkdir(parents=True, exist_ok=True)
        path = settings.archive_dir / f"audit-archive-{number:06d}-{already + 1}-{through}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            count = write_export(
                handle,
                start,
                (
                    row
                    for rows in records.iter_chain_rows(session, already + 1, through)
                    for row in rows
                ),
                [*anchors, signed],
            )
            handle.flush()
            os.fsync(handle.fileno())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        archive = AuditArchive(
            archive_no=number,
            through_seq=through,
            checkpoint_no=signed.checkpoint_no,
            records=count,
            location=str(path),
            sha256=digest,
            created_at=datetime.now(UTC),
        )
        repository.add(session, archive)
        repository.delete_through(session, through)
    return ArchivePublic(
        archive_no=number,
        from_seq=already + 1,
        through_seq=through,
        records=count,
        location=path.name,
        sha256=digest,
        checkpoint_no=signed.checkpoint_no,
        head_hash=signed.head_hash,
    )
