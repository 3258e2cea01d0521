"""Queries on the audit trail. Records are only ever inserted (archiving aside)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from anxin_audit.events.chain import Row
from anxin_audit.events.models import AuditCursor, AuditRecord, ChainHead

PARTITION = "main"
RECORDS = AuditRecord.__table__  # type: ignore[attr-defined]


def tune_sqlite(engine: Engine) -> None:
    """SQLite tuned for the trail's write pattern.

    A larger page cache, because the random-keyed indexes (event, request and
    decision ids) otherwise cost a page read per insert; and fewer, larger WAL
    checkpoints (40 MB), because each checkpoint rewrites those scattered index
    pages. Durability is unchanged: a commit is in the WAL before ingest answers.
    """
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _cache(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()


def lock_head(session: Session) -> ChainHead:
    """The chain head, locked for this transaction (created on first use)."""
    statement = select(ChainHead).where(ChainHead.partition == PARTITION).with_for_update()
    head = session.exec(statement).first()
    if head is None:
        raise RuntimeError("the chain head is missing; run the audit migrations")
    return head


def head(session: Session) -> ChainHead | None:
    """The chain head, unlocked (for readers)."""
    return session.get(ChainHead, PARTITION)


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Which of these event ids are stored already."""
    if not event_ids:
        return set()
    statement = select(AuditRecord.event_id).where(col(AuditRecord.event_id).in_(event_ids))
    return set(session.exec(statement).all())


COLUMNS = (
    "seq",
    "event_id",
    "producer",
    "occurred_at",
    "recorded_at",
    "actor",
    "domain",
    "resource",
    "action",
    "allowed",
    "decision_id",
    "request_id",
    "trace_id",
    "customer_ref",
    "body",
    "prev_hash",
    "hash",
)
_TIMES = (COLUMNS.index("occurred_at"), COLUMNS.index("recorded_at"))


def _sqlite_time(moment: datetime) -> str:
    """SQLAlchemy's SQLite DateTime text, in UTC (so every stored time compares alike)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def insert_rows(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert many records with one driver-level executemany (the hot path of ingest).

    Rows are tuples in `COLUMNS` order; SQLAlchemy's per-parameter processing
    would cost more than the insert itself.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        first, second = _TIMES
        recorded = {id(row[second]): _sqlite_time(row[second]) for row in rows[:1]}
        rows = [
            (
                *row[:first],
                _sqlite_time(row[first]),
                recorded.get(id(row[second])) or _sqlite_time(row[second]),
                *row[second + 1 :],
            )
            for row in rows
        ]
        marks = ", ".join("?" for _ in COLUMNS)
    else:
        marks = ", ".join("%s" for _ in COLUMNS)
    statement = f"INSERT INTO audit_record ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(statement, rows)


def save_head(session: Session, seq: int, hash_: str) -> None:
    """Move the (locked) head."""
    session.connection().execute(
        sa.update(ChainHead.__table__)  # type: ignore[attr-defined]
        .where(ChainHead.__table__.c.partition == PARTITION)  # type: ignore[attr-defined]
        .values(seq=seq, hash=hash_)
    )


def query(
    session: Session,
    domains: list[str],
    *,
    include_unscoped: bool,
    after_seq: int,
    limit: int,
    request_id: str | None = None,
    decision_id: str | None = None,
    actor: str | None = None,
    customer_ref: str | None = None,
    subsidiary: str | None = None,
    resource: str | None = None,
    action: str | None = None,
    producer: str | None = None,
    allowed: bool | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> list[AuditRecord]:
    """Records in the given subsidiaries matching the filters, oldest first."""
    scope: ColumnElement[bool] = col(AuditRecord.domain).in_(domains)
    if include_unscoped:
        scope = or_(scope, col(AuditRecord.domain).is_(None))
    statement = select(AuditRecord).where(scope).where(AuditRecord.seq > after_seq)
    equals = {
        AuditRecord.request_id: request_id,
        AuditRecord.decision_id: decision_id,
        AuditRecord.actor: actor,
        AuditRecord.customer_ref: customer_ref,
        AuditRecord.domain: subsidiary,
        AuditRecord.resource: resource,
        AuditRecord.action: action,
        AuditRecord.producer: producer,
    }
    for column, value in equals.items():
        if value is not None:
            statement = statement.where(column == value)
    if allowed is not None:
        statement = statement.where(AuditRecord.allowed == allowed)
    if occurred_from is not None:
        statement = statement.where(AuditRecord.occurred_at >= occurred_from)
    if occurred_to is not None:
        statement = statement.where(AuditRecord.occurred_at < occurred_to)
    statement = statement.order_by(col(AuditRecord.seq)).limit(limit)
    return list(session.exec(statement).all())


def record_at(session: Session, seq: int) -> AuditRecord | None:
    """The record at one sequence number."""
    return session.get(AuditRecord, seq)


def records_by_event_ids(session: Session, event_ids: list[str]) -> list[AuditRecord]:
    """The stored records of these event ids."""
    if not event_ids:
        return []
    statement = select(AuditRecord).where(col(AuditRecord.event_id).in_(event_ids))
    return list(session.exec(statement).all())


def records_after(session: Session, after_seq: int, limit: int) -> list[AuditRecord]:
    """The next records after a cursor, in order."""
    statement = (
        select(AuditRecord)
        .where(AuditRecord.seq > after_seq)
        .order_by(col(AuditRecord.seq))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def records_since(session: Session, since: datetime, through_seq: int) -> list[AuditRecord]:
    """Records that occurred since `since`, up to a sequence number (window rebuilds)."""
    statement = (
        select(AuditRecord)
        .where(AuditRecord.occurred_at >= since)
        .where(AuditRecord.seq <= through_seq)
        .order_by(col(AuditRecord.seq))
    )
    return list(session.exec(statement).all())


def count_actor_events(session: Session, actor: str, start: datetime, end: datetime) -> int:
    """How many events an actor caused in [start, end)."""
    statement = (
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.actor == actor)
        .where(AuditRecord.occurred_at >= start)
        .where(AuditRecord.occurred_at < end)
    )
    return int(session.exec(statement).one())


def first_seq(session: Session) -> int | None:
    """The lowest stored sequence number (archiving removes a prefix)."""
    return session.exec(select(func.min(AuditRecord.seq))).one()


def iter_chain_rows(
    session: Session, from_seq: int = 1, to_seq: int | None = None, chunk: int = 20_000
) -> Iterator[list[Row]]:
    """(seq, prev_hash, hash, body) rows in order, a chunk at a time (bounded memory)."""
    table = RECORDS
    position = from_seq - 1
    connection = session.connection()
    while True:
        statement = (
            sa.select(table.c.seq, table.c.prev_hash, table.c.hash, table.c.body)
            .where(table.c.seq > position)
            .order_by(table.c.seq)
            .limit(chunk)
        )
        if to_seq is not None:
            statement = statement.where(table.c.seq <= to_seq)
        rows: list[Row] = [tuple(row) for row in connection.execute(statement)]  # type: ignore[misc]
        if not rows:
            return
        yield rows
        position = rows[-1][0]
        if len(rows) < chunk:
            return


def chain_rows(session: Session) -> list[Row]:
    """Every record as (seq, prev_hash, hash, body), in order (small chains and tests)."""
    return [row for rows in iter_chain_rows(session) for row in rows]


def cursor(session: Session, name: str) -> int:
    """A background task's position (0 when it never ran)."""
    found = session.get(AuditCursor, name)
    return found.position if found else 0


def save_cursor(session: Session, name: str, position: int) -> None:
    """Move a background task's position."""
    found = session.get(AuditCursor, name)
    if found is None:
        session.add(AuditCursor(name=name, position=position))
    else:
        found.position = position
        session.add(found)
    session.flush()
