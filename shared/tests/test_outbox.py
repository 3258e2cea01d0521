"""The outbox relay: delivery, retry with back-off, and nothing lost when the receiver fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import SQLModel, select

from anxin_shared.db import Database
from anxin_shared.outbox import OutboxEvent, OutboxRelay, enqueue


def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    SQLModel.metadata.create_all(db.engine, tables=[OutboxEvent.__table__])  # type: ignore[list-item]
    return db


async def test_events_are_delivered_once_in_order(tmp_path: Path) -> None:
    db = database(tmp_path)
    with db.session() as session:
        ids = [enqueue(session, "audit.event", {"n": n}) for n in range(5)]
    received: list[dict[str, Any]] = []

    async def send(topic: str, batch: list[dict[str, Any]]) -> None:
        assert topic == "audit.event"
        received.extend(batch)

    relay = OutboxRelay(db, send, batch_size=3)
    assert await relay.run_once() == 3
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    assert [event["event_id"] for event in received] == ids
    assert relay.lag() == 0


async def test_a_failing_receiver_keeps_events_and_backs_off(tmp_path: Path) -> None:
    db = database(tmp_path)
    with db.session() as session:
        enqueue(session, "audit.event", {"n": 1})

    async def down(_topic: str, _batch: list[dict[str, Any]]) -> None:
        raise ConnectionError("audit is down")

    relay = OutboxRelay(db, down)
    assert await relay.run_once() == 0
    with db.session() as session:
        event = session.exec(select(OutboxEvent)).one()
        assert event.attempts == 1 and event.delivered_at is None
        assert event.last_error and "audit is down" in event.last_error
        assert event.next_attempt_at > event.created_at
    # Backed off: not retried at once.
    assert await relay.run_once() == 0
    assert relay.lag() == 1


def test_an_event_rolled_back_with_its_transaction_never_exists(tmp_path: Path) -> None:
    db = database(tmp_path)
    try:
        with db.session() as session:
            enqueue(session, "audit.event", {"n": 1})
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    with db.session() as session:
        assert session.exec(select(OutboxEvent)).all() == []


def test_outbox_lag_is_reported_as_a_metric(tmp_path: Path) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from anxin_shared import telemetry

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    original = telemetry.metrics.get_meter
    telemetry.metrics.get_meter = provider.get_meter  # type: ignore[assignment]
    try:
        db = database(tmp_path)
        with db.session() as session:
            for n in range(3):
                enqueue(session, "audit.event", {"n": n})
        measures = telemetry.Metrics("test")
        measures.observe_outbox(OutboxRelay(db, lambda _t, _b: None).lag)  # type: ignore[arg-type,return-value]
    finally:
        telemetry.metrics.get_meter = original  # type: ignore[assignment]
    data = reader.get_metrics_data()
    points = [
        point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "anxin_outbox_pending"
        for point in metric.data.data_points
    ]
    assert points == [3]


async def test_two_relays_on_postgresql_deliver_each_event_once() -> None:
    import asyncio
    import os
    import uuid

    import psycopg
    import pytest

    base = os.environ.get("ANXIN_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("ANXIN_TEST_POSTGRES_URL is not set (CI sets it)")
    name = f"anxin_test_outbox_{uuid.uuid4().hex[:8]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        db = Database(base.rsplit("/", 1)[0] + f"/{name}")
        SQLModel.metadata.create_all(db.engine, tables=[OutboxEvent.__table__])  # type: ignore[list-item]
        with db.session() as session:
            ids = {enqueue(session, "audit.event", {"n": n}) for n in range(400)}
        received: list[str] = []

        async def send(_topic: str, batch: list[dict[str, Any]]) -> None:
            await asyncio.sleep(0.01)
            received.extend(event["event_id"] for event in batch)

        relays = [OutboxRelay(db, send, batch_size=25) for _ in range(2)]

        async def drain(relay: OutboxRelay) -> None:
            while relay.lag():
                await relay.run_once()

        await asyncio.gather(*(drain(relay) for relay in relays))
        db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert sorted(received) == sorted(ids)
