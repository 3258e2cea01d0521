"""The transactional outbox.

A producer writes its event into its own database in the same transaction as
the change (or, for a read, before the response leaves), so an event exists
exactly when the thing it describes happened. A relay then delivers pending
events in batches, with retry and exponential back-off; event ids make
delivery idempotent at the receiver, so at-least-once delivery stores each
event once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from anxin_shared.db import Database

logger = logging.getLogger("anxin.outbox")

MAX_BACKOFF_SECONDS = 60.0
LEASE_SECONDS = 30.0


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class OutboxEvent(SQLModel, table=True):
    """An event waiting in the producer's database until the relay delivers it."""

    __tablename__ = "outbox_event"

    id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=100, index=True)
    payload: str
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    delivered_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
        index=True,
    )
    last_error: str | None = Field(default=None, max_length=500)


def enqueue(session: Session, topic: str, payload: dict[str, Any]) -> str:
    """Add an event to the outbox in the caller's transaction; return its id."""
    return enqueue_many(session, topic, [payload])[0]


def enqueue_many(session: Session, topic: str, payloads: list[dict[str, Any]]) -> list[str]:
    """Add events to the outbox in the caller's transaction, in one statement; their ids.

    A plain INSERT (no ORM unit of work): on the audit hot path that bookkeeping cost
    more than the write itself (`benchmarks/gateway.py`'s profile).
    """
    now = utcnow()
    rows = []
    for payload in payloads:
        event_id = payload.get("event_id") or uuid.uuid4().hex
        body = json.dumps(
            {**payload, "event_id": event_id}, ensure_ascii=False, sort_keys=True, default=str
        )
        rows.append(
            {
                "id": event_id,
                "topic": topic,
                "payload": body,
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    if rows:
        session.execute(sa.insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]
    return [str(row["id"]) for row in rows]


def create_outbox_table(op: Any) -> None:
    """Alembic operation that creates the outbox table (used by every service)."""
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(100), nullable=False, index=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )


# A sender delivers a batch of one topic's payloads, or raises to have it retried.
Sender = Callable[[str, list[dict[str, Any]]], Awaitable[None]]

# Where each topic goes: (service, internal path). A topic with several
# destinations is retried as a whole, so receivers must be idempotent by
# event id (they are: see each service's internal event endpoint).
DELIVERY_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "audit.event": (("audit", "/internal/v1/events:batch"),),
    # A withdrawn consent: identity deletes a withdrawn voiceprint, profile stops sharing.
    "consent.withdrawn": (
        ("identity", "/internal/v1/consent-events"),
        ("profile", "/internal/v1/consent-events"),
    ),
    # A fraud signal on a customer's account (watchlist hit, lockout, spoofed ANI):
    # profile sends the customer one fraud alert per event.
    "identity.fraud_signal": (("profile", "/internal/v1/fraud-signals"),),
}


class OutboxRelay:
    """Delivers pending outbox events in order, with retry and back-off."""

    def __init__(
        self, database: Database, send: Sender, batch_size: int = 200, interval: float = 0.5
    ) -> None:
        self.database = database
        self.send = send
        self.batch_size = batch_size
        self.interval = interval

    def _claim(self) -> list[OutboxEvent]:
        """Lease a batch of due events to this relay.

        With several replicas on one PostgreSQL database, `SKIP LOCKED` hands each
        due event to one relay, and the lease (pushing `next_attempt_at` out) keeps
        the others off it until it is delivered or the lease runs out (a relay that
        died mid-batch is thus replaced, never duplicated while alive).
        """
        with self.database.session() as session:
            statement = (
                select(OutboxEvent)
                .where(col(OutboxEvent.delivered_at).is_(None))
                .where(OutboxEvent.next_attempt_at <= utcnow())
                .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id))
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            events = list(session.exec(statement).all())
            lease_until = utcnow() + timedelta(seconds=LEASE_SECONDS)
            for event in events:
                event.next_attempt_at = lease_until
                session.add(event)
            session.flush()
            session.expunge_all()
            return events

    def _mark(self, ids: list[str], error: str | None) -> None:
        with self.database.session() as session:
            for event in session.exec(select(OutboxEvent).where(col(OutboxEvent.id).in_(ids))):
                if error is None:
                    event.delivered_at = utcnow()
                    event.last_error = None
                else:
                    event.attempts += 1
                    backoff = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(event.attempts, 10))
                    event.next_attempt_at = utcnow() + timedelta(seconds=backoff)
                    event.last_error = error[:500]
                session.add(event)

    async def run_once(self) -> int:
        """Deliver one batch; return how many events were delivered."""
        events = await asyncio.to_thread(self._claim)
        if not events:
            return 0
        by_topic: dict[str, list[OutboxEvent]] = {}
        for event in events:
            by_topic.setdefault(event.topic, []).append(event)
        delivered = 0
        for topic, batch in by_topic.items():
            ids = [event.id for event in batch]
            try:
                await self.send(topic, [json.loads(event.payload) for event in batch])
            except Exception as exc:
                logger.warning(
                    "outbox delivery of %d %s events failed: %s",
                    len(ids),
                    topic,
                    type(exc).__name__,
                )
                await asyncio.to_thread(self._mark, ids, f"{type(exc).__name__}: {exc}")
                continue
            await asyncio.to_thread(self._mark, ids, None)
            delivered += len(ids)
        return delivered

    async def run(self) -> None:
        """Relay forever (until cancelled)."""
        while True:
            try:
                delivered = await self.run_once()
            except Exception as exc:  # the database may be down; try again later
                logger.warning("outbox relay error: %s", type(exc).__name__)
                delivered = 0
            if delivered < self.batch_size:
                await asyncio.sleep(self.interval)

    def lag(self) -> int:
        """How many events wait for delivery."""
        with self.database.session() as session:
            statement = (
                select(sa.func.count())
                .select_from(OutboxEvent)
                .where(col(OutboxEvent.delivered_at).is_(None))
            )
            return int(session.exec(statement).one())
