"""The audit chain: idempotent batched ingest, append-only storage, signed checkpoints,
and a tamper suite that attacks a copy of a real chain the way a database-level
attacker would (constraints and triggers dropped), one tamper class at a time."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.checkpoints.signing import (
    Checkpoint,
    CheckpointKeyMissing,
    load_signing_key,
    public_key_path,
    sign_checkpoint,
    signature_problem,
)
from anxin_audit.events.chain import canonical, record_hash, verify_records
from anxin_audit.events.repository import chain_rows
from anxin_audit.events.schemas import ChainVerification
from anxin_audit.events.service import append, checkpoint_now, verify
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database

MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"
EVERY = 5
MAX_UNANCHORED = 10


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
def checkpointer(tmp_path: Path) -> Checkpointer:
    key = load_signing_key(tmp_path / "keys" / "audit-checkpoint.ed25519.pem", generate=True)
    return Checkpointer(key, EVERY)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    db.migrate()
    return db


def ingest(db: Database, events: list[AuditEvent], checkpointer: Checkpointer | None = None) -> int:
    return append(db, events, checkpointer).stored


def rows(db: Database) -> list[tuple[int, str, str, str]]:
    with db.session() as session:
        return chain_rows(session)


def check(db: Database, checkpointer: Checkpointer, **kwargs: object) -> ChainVerification:
    with db.session() as session:
        return verify(session, checkpointer, MAX_UNANCHORED, **kwargs)  # type: ignore[arg-type]


# -- ingest and storage -------------------------------------------------------------
def test_redelivered_events_are_stored_once(database: Database) -> None:
    batch = [event() for _ in range(3)]
    assert ingest(database, batch) == 3
    result = append(database, [*batch, event(), batch[0]])
    assert (result.stored, result.duplicates, result.head_seq) == (1, 4, 4)
    assert verify_records(rows(database)).records == 4


def test_the_database_refuses_update_and_delete(
    database: Database, checkpointer: Checkpointer
) -> None:
    ingest(database, [event()])
    checkpoint_now(database, checkpointer)
    with Session(database.engine) as session, pytest.raises(DatabaseError):
        session.execute(text("UPDATE audit_record SET actor = 'someone' WHERE seq = 1"))
    with Session(database.engine) as session, pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM audit_record WHERE seq = 1"))
    with Session(database.engine) as session, pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM audit_checkpoint"))


def test_a_checkpoint_is_signed_every_n_events(
    database: Database, checkpointer: Checkpointer
) -> None:
    ingest(database, [event() for _ in range(3)], checkpointer)
    ingest(database, [event() for _ in range(4)], checkpointer)  # crosses 5
    ingest(database, [event() for _ in range(4)], checkpointer)  # crosses 10
    with database.session() as session:
        stored = session.execute(text("SELECT seq, kind FROM audit_checkpoint")).all()
    assert [tuple(row) for row in stored] == [(7, "periodic"), (11, "periodic")]
    report = check(database, checkpointer)
    assert report.ok and report.checkpoints_verified == 2 and report.head_seq == 11


def test_a_stale_head_gets_a_time_checkpoint(
    database: Database, checkpointer: Checkpointer
) -> None:
    ingest(database, [event() for _ in range(2)], checkpointer)
    with database.session() as session:
        taken = checkpointer.if_stale(session, max_age_seconds=0)
    assert taken is not None and taken.seq == 2
    with database.session() as session:
        assert checkpointer.if_stale(session, max_age_seconds=0) is None  # head did not move


def test_the_checkpoint_key_is_generated_in_dev_only(tmp_path: Path) -> None:
    path = tmp_path / "k" / "audit-checkpoint.ed25519.pem"
    with pytest.raises(CheckpointKeyMissing):
        load_signing_key(path, generate=False)
    key = load_signing_key(path, generate=True)
    assert path.stat().st_mode & 0o777 == 0o600 and public_key_path(path).exists()
    again = load_signing_key(path, generate=False)
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()


# -- the tamper suite -------------------------------------------------------------------
def build_chain(database: Database, checkpointer: Checkpointer, count: int = 40) -> None:
    """A real chain: batches through the ingest path, periodic checkpoints on the way."""
    for start in range(0, count, 4):
        ingest(database, [event(actor=f"agent.{start + i}") for i in range(4)], checkpointer)
    checkpoint_now(database, checkpointer)


def attack(source: Database, tmp_path: Path, name: str) -> tuple[Database, sqlite3.Connection]:
    """A copy of the chain, opened the way an attacker with file access would: no triggers,
    no constraints (the table rebuilt without them)."""
    source.engine.dispose()
    copy = tmp_path / f"{name}.db"
    shutil.copy(tmp_path / "audit.db", copy)
    for suffix in ("-wal", "-shm"):
        if (tmp_path / f"audit.db{suffix}").exists():
            shutil.copy(tmp_path / f"audit.db{suffix}", tmp_path / f"{name}.db{suffix}")
    connection = sqlite3.connect(copy, isolation_level=None)
    for (trigger,) in connection.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
        connection.execute(f"DROP TRIGGER {trigger}")
    connection.executescript("""
        CREATE TABLE loose AS SELECT * FROM audit_record;
        DROP TABLE audit_record;
        ALTER TABLE loose RENAME TO audit_record;
    """)
    return Database(f"sqlite:///{copy}"), connection


def body_of(connection: sqlite3.Connection, seq: int) -> tuple[str, str, str]:
    row = connection.execute(
        "SELECT event_id, body, hash FROM audit_record WHERE seq = ?", (seq,)
    ).fetchone()
    return row[0], row[1], row[2]


def rehash_from(connection: sqlite3.Connection, seq: int) -> None:
    """What an attacker without the key does to hide an edit: recompute every later hash."""
    prev = connection.execute("SELECT hash FROM audit_record WHERE seq = ?", (seq - 1,)).fetchone()
    prev_hash = prev[0] if prev else "0" * 64
    for current, body in connection.execute(
        "SELECT seq, body FROM audit_record WHERE seq >= ? ORDER BY seq", (seq,)
    ).fetchall():
        digest = record_hash(current, prev_hash, body)
        connection.execute(
            "UPDATE audit_record SET prev_hash = ?, hash = ? WHERE seq = ?",
            (prev_hash, digest, current),
        )
        prev_hash = digest
    last = connection.execute("SELECT MAX(seq) FROM audit_record").fetchone()[0]
    connection.execute("UPDATE audit_chain_head SET seq = ?, hash = ?", (last, prev_hash))


def edit_field(c: sqlite3.Connection) -> None:
    _, body, _ = body_of(c, 13)
    c.execute(
        "UPDATE audit_record SET body = ? WHERE seq = 13", (body.replace("agent.12", "agent.xx"),)
    )


def delete_middle(c: sqlite3.Connection) -> None:
    c.execute("DELETE FROM audit_record WHERE seq = 13")


def reorder(c: sqlite3.Connection) -> None:
    c.execute("UPDATE audit_record SET seq = -1 WHERE seq = 13")
    c.execute("UPDATE audit_record SET seq = 13 WHERE seq = 14")
    c.execute("UPDATE audit_record SET seq = 14 WHERE seq = -1")


def insert_forged(c: sqlite3.Connection) -> None:
    c.execute("UPDATE audit_record SET seq = seq + 1000 WHERE seq >= 13")
    c.execute("UPDATE audit_record SET seq = seq - 999 WHERE seq >= 1013")
    _, body, prev = body_of(c, 12)
    forged = body.replace(body[body.index('"event_id":"') + 12 :][:32], uuid.uuid4().hex)
    c.execute(
        "INSERT INTO audit_record (seq, event_id, producer, occurred_at, recorded_at, actor, "
        "resource, action, allowed, body, prev_hash, hash) "
        "VALUES (13, 'forged', 'gateway', '2026-01-01', '2026-01-01', 'agent.x', "
        "'customer.profile', 'read', 1, ?, ?, ?)",
        (forged, prev, record_hash(13, prev, forged)),
    )


def duplicate(c: sqlite3.Connection) -> None:
    """Replay record 12 as a new record 13, fully chained (only its event id gives it away)."""
    c.execute("UPDATE audit_record SET seq = seq + 1000 WHERE seq >= 13")
    c.execute("UPDATE audit_record SET seq = seq - 999 WHERE seq >= 1013")
    c.execute(
        "INSERT INTO audit_record SELECT 13, event_id, producer, occurred_at, recorded_at, "
        "actor, domain, resource, action, allowed, decision_id, request_id, trace_id, "
        "customer_ref, body, prev_hash, hash FROM audit_record WHERE seq = 12"
    )
    rehash_from(c, 13)


def truncate_tail(c: sqlite3.Connection) -> None:
    c.execute("DELETE FROM audit_record WHERE seq > 30")
    rehash_from(c, 31)


def truncate_tail_and_checkpoints(c: sqlite3.Connection) -> None:
    truncate_tail(c)
    c.execute("DELETE FROM audit_checkpoint WHERE seq > 30")


def full_rehash(c: sqlite3.Connection) -> None:
    edit_field(c)
    rehash_from(c, 13)


def full_rehash_and_drop_checkpoints(c: sqlite3.Connection) -> None:
    full_rehash(c)
    c.execute("DELETE FROM audit_checkpoint")


def full_rehash_and_forge_checkpoints(c: sqlite3.Connection) -> None:
    """Re-hash, then re-sign every checkpoint with a key the attacker made up."""
    full_rehash(c)
    own_key = Ed25519PrivateKey.generate()
    stored = c.execute(
        "SELECT checkpoint_no, partition, seq, taken_at, kind FROM audit_checkpoint"
    ).fetchall()
    for number, partition, seq, taken_at, kind in stored:
        head = c.execute("SELECT hash FROM audit_record WHERE seq = ?", (seq,)).fetchone()[0]
        forged = sign_checkpoint(
            own_key,
            checkpoint_no=number,
            partition=partition,
            seq=seq,
            head_hash=head,
            taken_at=taken_at,
            kind=kind,
        )
        # Keep the genuine key id, so only the signature can give it away.
        c.execute(
            "UPDATE audit_checkpoint SET head_hash = ?, signature = ? WHERE checkpoint_no = ?",
            (head, forged.signature, number),
        )


TAMPERS: dict[str, tuple[Callable[[sqlite3.Connection], None], int]] = {
    "edited field": (edit_field, 13),
    "deleted record": (delete_middle, 13),
    "reordered records": (reorder, 13),
    "inserted record": (insert_forged, 14),
    "duplicated record": (duplicate, 13),
    "tail truncated (checkpoint remains)": (truncate_tail, 31),
    "full re-hash (checkpoints remain)": (full_rehash, 13),
    "full re-hash, checkpoints deleted": (full_rehash_and_drop_checkpoints, 1),
    "full re-hash, checkpoints forged": (full_rehash_and_forge_checkpoints, 8),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_each_tamper_class_is_caught_on_a_copy_of_a_real_chain(
    database: Database, checkpointer: Checkpointer, tmp_path: Path, name: str
) -> None:
    build_chain(database, checkpointer)
    assert check(database, checkpointer).ok
    tamper, first_bad = TAMPERS[name]
    copy, connection = attack(database, tmp_path, "copy")
    untouched = check(copy, checkpointer)
    assert untouched.ok, untouched
    tamper(connection)
    report = check(copy, checkpointer)
    assert not report.ok, name
    assert report.first_bad_seq == first_bad, report


def test_a_truncated_tail_without_its_checkpoints_is_caught_by_the_anchor(
    database: Database, checkpointer: Checkpointer, tmp_path: Path
) -> None:
    build_chain(database, checkpointer)
    with database.session() as session:
        anchors = [
            Checkpoint(*row)
            for row in session.execute(
                text(
                    "SELECT checkpoint_no, partition, seq, head_hash, taken_at, kind, key_id, "
                    "signature FROM audit_checkpoint ORDER BY checkpoint_no"
                )
            ).all()
        ]
    copy, connection = attack(database, tmp_path, "copy")
    truncate_tail_and_checkpoints(connection)
    # The stored data alone is consistent again (within one checkpoint interval) …
    assert check(copy, checkpointer).ok
    # … but not with the checkpoints security staff kept elsewhere.
    report = check(copy, checkpointer, external=anchors)
    assert not report.ok and report.first_bad_seq == 31
    assert "tail truncated" in (report.problem or "")
    assert check(database, checkpointer, external=anchors).ok


def test_forged_external_checkpoints_are_refused(
    database: Database, checkpointer: Checkpointer
) -> None:
    build_chain(database, checkpointer)
    with database.session() as session:
        head_hash = str(session.execute(text("SELECT hash FROM audit_chain_head")).scalar())
    genuine = sign_checkpoint(
        checkpointer.key,
        checkpoint_no=99,
        partition="main",
        seq=40,
        head_hash=head_hash,
        taken_at="2026-11-26T00:00:00Z",
        kind="manual",
    )
    assert check(database, checkpointer, external=[genuine]).ok
    other_key = sign_checkpoint(
        Ed25519PrivateKey.generate(),
        checkpoint_no=99,
        partition="main",
        seq=40,
        head_hash="1" * 64,
        taken_at="2026-11-26T00:00:00Z",
        kind="manual",
    )
    altered = Checkpoint(**{**genuine.as_dict(), "seq": 41})
    claims_more = Checkpoint(**{**genuine.as_dict(), "head_hash": "2" * 64})
    for forged in (other_key, altered, claims_more):
        report = check(database, checkpointer, external=[forged])
        assert not report.ok, forged
    assert signature_problem(altered, checkpointer.public_key) is not None
    assert "another signing key" in (signature_problem(other_key, checkpointer.public_key) or "")


def test_ranges_chain_into_the_whole_verification(
    database: Database, checkpointer: Checkpointer, tmp_path: Path
) -> None:
    build_chain(database, checkpointer)
    first = check(database, checkpointer, to_seq=17)
    assert first.ok and first.head_seq == 17 and first.chain_head_seq == 40
    rest = check(database, checkpointer, from_seq=18, expected_prev_hash=first.head_hash)
    assert rest.ok and rest.head_seq == 40
    wrong = check(database, checkpointer, from_seq=18, expected_prev_hash="f" * 64)
    assert not wrong.ok and wrong.first_bad_seq == 18


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_canonical_is_sorted_compact_utf8_json(value: object) -> None:
    expected = json.dumps({"v": value}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical({"v": value}) == expected


def test_canonical_survives_what_orjson_refuses() -> None:
    assert canonical({"v": "\ud800"}) == '{"v":"\ud800"}'
