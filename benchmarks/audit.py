"""Audit benchmark (issue 6): ingest with hash chaining on SQLite, and verifying 1,000,000 events.

    .venv/bin/python benchmarks/audit.py                # the full run (a few minutes)
    .venv/bin/python benchmarks/audit.py --quick        # a smoke run with small numbers

Ingest measures the service's own `append` (canonical encoding, SHA-256 chaining,
one executemany and one commit per batch, periodic Ed25519 checkpoints) on
already-validated events, against the same append called once per event (one
commit per row). Verification measures the service's `verify` over a chain of
1,000,000 records with a signed checkpoint every 1,000, on SQLite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from anxin_audit.checkpoints.models import AuditCheckpoint
from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.checkpoints.signing import load_signing_key, sign_checkpoint
from anxin_audit.events.chain import canonical, record_hash
from anxin_audit.events.models import AuditRecord, ChainHead
from anxin_audit.events.repository import tune_sqlite
from anxin_audit.events.service import append, verify
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database

MIGRATIONS = (
    Path(__file__).resolve().parents[1] / "services" / "audit" / "anxin_audit" / "migrations"
)
INGEST_TARGET = 20_000.0
RATIO_TARGET = 5.0
VERIFY_TARGET_SECONDS = 30.0


def make_event(number: int, at: datetime) -> dict[str, Any]:
    """A realistic event: an agent's read of a customer, decided and masked."""
    return {
        "event_id": uuid.uuid4().hex,
        "occurred_at": at.isoformat(),
        "producer": "profile",
        "kind": "decision",
        "actor": f"agent.{number % 50}",
        "actor_kind": "user",
        "roles": ["agent"],
        "actor_subsidiary": "life",
        "client": None,
        "domain": "life",
        "call_session": uuid.uuid4().hex,
        "assurance_level": "L2",
        "action": "read",
        "resource": "customer.profile",
        "customer_ref": f"C{number % 100_000:06d}",
        "allowed": True,
        "decision_id": uuid.uuid4().hex,
        "matched_rule": "agent, *, customer.profile, read, L0, allow",
        "policy_version": "69650461d5fae351",
        "reasons": ["allowed by rule: agent, *, customer.profile, read, L0, allow"],
        "failed_fact": None,
        "field_views": {"pi.identity.name": "plain", "pi.contact.phone": "masked"},
        "unmask_reason": None,
        "consent_id": None,
        "trace_id": uuid.uuid4().hex,
        "request_id": uuid.uuid4().hex,
        "method": None,
        "path": None,
        "status_code": None,
    }


def fresh_database(folder: Path, name: str) -> Database:
    database = Database(f"sqlite:///{folder / name}", MIGRATIONS)
    tune_sqlite(database.engine)
    database.migrate()
    return database


def bench_ingest(
    folder: Path, checkpointer: Checkpointer, count: int, batch: int, producers: int
) -> tuple[float, float]:
    """Events per second: producers sending batches at once (group-committed), and the
    same append called once per event, one after the other (one commit per row)."""
    now = datetime.now(UTC)
    events = [AuditEvent.model_validate(make_event(i, now)) for i in range(count)]
    batches = [events[start : start + batch] for start in range(0, count, batch)]
    database = fresh_database(folder, "ingest.db")
    with ThreadPoolExecutor(max_workers=producers) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda chunk: append(database, chunk, checkpointer), batches))
        elapsed = time.perf_counter() - started
    batched = count / elapsed
    assert sum(result.stored for result in results) == count

    baseline_count = max(1, count // 20)
    singles = [AuditEvent.model_validate(make_event(i, now)) for i in range(baseline_count)]
    database = fresh_database(folder, "baseline.db")
    started = time.perf_counter()
    for item in singles:
        append(database, [item], checkpointer)
    per_row = baseline_count / (time.perf_counter() - started)
    return batched, per_row


def build_chain(folder: Path, checkpointer: Checkpointer, count: int, every: int) -> Database:
    """A chain of `count` records (written directly, in large transactions)."""
    database = fresh_database(folder, "verify.db")
    records = AuditRecord.__table__  # type: ignore[attr-defined]
    checkpoints = AuditCheckpoint.__table__  # type: ignore[attr-defined]
    heads = ChainHead.__table__  # type: ignore[attr-defined]
    start = datetime.now(UTC) - timedelta(days=1)
    prev, number = "0" * 64, 0
    chunk = 50_000
    with database.engine.begin() as connection:
        for offset in range(0, count, chunk):
            rows, signed = [], []
            for seq in range(offset + 1, min(count, offset + chunk) + 1):
                event = make_event(seq, start)
                body = canonical(event)
                digest = record_hash(seq, prev, body)
                rows.append(
                    {
                        "seq": seq,
                        "event_id": event["event_id"],
                        "producer": "profile",
                        "occurred_at": start,
                        "recorded_at": start,
                        "actor": event["actor"],
                        "domain": "life",
                        "resource": "customer.profile",
                        "action": "read",
                        "allowed": True,
                        "decision_id": event["decision_id"],
                        "request_id": event["request_id"],
                        "trace_id": event["trace_id"],
                        "customer_ref": event["customer_ref"],
                        "body": body,
                        "prev_hash": prev,
                        "hash": digest,
                    }
                )
                prev = digest
                if seq % every == 0:
                    number += 1
                    signed.append(
                        sign_checkpoint(
                            checkpointer.key,
                            checkpoint_no=number,
                            partition="main",
                            seq=seq,
                            head_hash=digest,
                            taken_at=start.isoformat(),
                            kind="periodic",
                        ).as_dict()
                    )
            connection.execute(sa.insert(records), rows)
            if signed:
                connection.execute(sa.insert(checkpoints), signed)
        connection.execute(sa.update(heads).values(seq=count, hash=prev))
    return database


def bench_verify(
    database: Database, checkpointer: Checkpointer, every: int
) -> tuple[float, bool, int]:
    started = time.perf_counter()
    with database.session() as session:
        report = verify(session, checkpointer, every + 500)
    return time.perf_counter() - started, report.ok, report.records


def row(name: str, figure: str, target: str, met: bool) -> str:
    return f"| {name:<44} | {figure:>16} | {target:>14} | {'met' if met else 'NOT met':<7} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events for batched ingest")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (the outbox's)")
    parser.add_argument("--producers", type=int, default=8, help="batches sent at once")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.verify_events = 5_000, 20_000
    with tempfile.TemporaryDirectory(prefix="anxin-audit-bench-") as tmp:
        folder = Path(tmp)
        key = load_signing_key(folder / "audit-checkpoint.ed25519.pem", generate=True)
        checkpointer = Checkpointer(key, args.checkpoint_every)
        print(
            f"ingest: {args.events:,} events, batches of {args.batch} from "
            f"{args.producers} producers …",
            flush=True,
        )
        batched, per_row = bench_ingest(
            folder, checkpointer, args.events, args.batch, args.producers
        )
        print(f"building a chain of {args.verify_events:,} records …", flush=True)
        database = build_chain(folder, checkpointer, args.verify_events, args.checkpoint_every)
        print("verifying …", flush=True)
        seconds, ok, records = bench_verify(database, checkpointer, args.checkpoint_every)
    ratio = batched / per_row
    verify_target = VERIFY_TARGET_SECONDS * args.verify_events / 1_000_000
    lines = [
        f"| {'measure (SQLite, one process)':<44} | {'figure':>16} | {'target':>14} | {'':<7} |",
        f"|{'-' * 46}|{'-' * 18}|{'-' * 16}|{'-' * 9}|",
        row(
            f"ingest, chained, {args.producers} x batches of {args.batch}",
            f"{batched:,.0f} ev/s",
            f">= {INGEST_TARGET:,.0f} ev/s",
            batched >= INGEST_TARGET,
        ),
        row("ingest, one commit per row (baseline)", f"{per_row:,.0f} ev/s", "-", True),
        row(
            "ingest speed-up over the baseline",
            f"{ratio:,.1f}x",
            f">= {RATIO_TARGET:g}x",
            ratio >= RATIO_TARGET,
        ),
        row(
            f"verify {records:,} records ({'intact' if ok else 'BROKEN'})",
            f"{seconds:,.1f} s",
            f"<= {verify_target:g} s",
            ok and seconds <= verify_target,
        ),
    ]
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
