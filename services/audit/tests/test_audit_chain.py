"""The audit chain: idempotent ingest, append-only storage, and tampering the verifier catches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from anxin_audit.events.chain import record_hash, verify_records
from anxin_audit.events.repository import chain_rows
from anxin_audit.events.service import append
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database

MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"


def event(**overrides: object) -> AuditEvent:
    body = {
        "event_id": uuid.uuid4().hex,
        "occurred_at": datetime.now(UTC),
        "producer": "test",
        "actor": "agent.li",
        "actor_kind": "user",
        "action": "read",
        "resource": "customer.profile",
        "allowed": True,
        "domain": "life",
    }
    body.update(overrides)
    return AuditEvent.model_validate(body)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    db.migrate()
    return db


def ingest(db: Database, events: list[AuditEvent]) -> int:
    return append(db, events).stored


def rows(db: Database) -> list[tuple[int, str, str, str]]:
    with db.session() as session:
        return chain_rows(session)


def test_redelivered_events_are_stored_once(database: Database) -> None:
    batch = [event() for _ in range(3)]
    assert ingest(database, batch) == 3
    assert ingest(database, [*batch, event()]) == 1
    assert verify_records(rows(database)).records == 4


def test_the_database_refuses_update_and_delete(database: Database) -> None:
    ingest(database, [event()])
    with Session(database.engine) as session, pytest.raises(DatabaseError):
        session.execute(text("UPDATE audit_record SET actor = 'someone' WHERE seq = 1"))
    with Session(database.engine) as session, pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM audit_record WHERE seq = 1"))


def test_an_intact_chain_verifies(database: Database) -> None:
    ingest(database, [event() for _ in range(10)])
    report = verify_records(rows(database))
    assert report.ok and report.records == 10 and report.head_seq == 10


def _tampered(database: Database) -> list[list]:
    ingest(database, [event() for _ in range(6)])
    return [list(row) for row in rows(database)]


def test_an_edited_field_is_caught(database: Database) -> None:
    chain = _tampered(database)
    chain[2][3] = chain[2][3].replace("agent.li", "agent.xx")
    report = verify_records([tuple(row) for row in chain])
    assert not report.ok and report.first_bad_seq == 3


def test_a_deleted_middle_record_is_caught(database: Database) -> None:
    chain = _tampered(database)
    del chain[3]
    assert verify_records([tuple(row) for row in chain]).first_bad_seq == 5


def test_reordered_records_are_caught(database: Database) -> None:
    chain = _tampered(database)
    chain[1], chain[2] = chain[2], chain[1]
    assert not verify_records([tuple(row) for row in chain]).ok


def test_a_rehashed_insert_is_caught_by_the_sequence(database: Database) -> None:
    chain = _tampered(database)
    seq, prev, _, body = chain[2]
    forged = [seq, prev, record_hash(seq, prev, body + " "), body + " "]
    chain.insert(3, forged)
    assert not verify_records([tuple(row) for row in chain]).ok
