"""The gateway's grouped audit commits: every waiting call's event is stored, or every one fails."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from anxin_gateway.audit import AuditWriter
from anxin_gateway.main import MIGRATIONS_DIR
from anxin_shared.db import Database


def event(number: int) -> dict[str, object]:
    return {"event_id": uuid.uuid4().hex, "producer": "gateway", "number": number}


def stored(database: Database) -> list[dict[str, object]]:
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT topic, payload FROM outbox_event")).all()
    assert {topic for topic, _ in rows} <= {"audit.event"}
    return [json.loads(payload) for _, payload in rows]


async def test_concurrent_calls_share_commits_and_each_returns_after_its_own(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}", MIGRATIONS_DIR)
    database.migrate()
    writer = AuditWriter(database, max_batch=7)
    events = [event(n) for n in range(100)]
    commits: list[object] = []
    sa.event.listen(database.engine, "commit", commits.append)

    async def call(item: dict[str, object]) -> str:
        await writer.write(item)
        # Returned only once committed: the event is readable from another connection.
        ids = {e["event_id"] for e in await asyncio.to_thread(stored, database)}
        assert item["event_id"] in ids
        return str(item["event_id"])

    done = await asyncio.gather(*(call(item) for item in events))
    assert sorted(done) == sorted(str(item["event_id"]) for item in events)
    assert sorted(e["number"] for e in stored(database)) == list(range(100))  # type: ignore[type-var]
    # All 100 were waiting when the first batch started: batches of 7, one commit each.
    assert len(commits) == math.ceil(100 / 7)


async def test_a_failed_commit_fails_every_call_in_the_batch(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'no-tables.db'}")  # never migrated
    writer = AuditWriter(database)
    results = await asyncio.gather(
        *(writer.write(event(n)) for n in range(20)), return_exceptions=True
    )
    assert len(results) == 20
    assert all(isinstance(result, sa.exc.OperationalError) for result in results)
    # The writer keeps working once the database does.
    database.migrations_dir = MIGRATIONS_DIR
    database.migrate()
    await writer.write(event(20))
    assert [e["number"] for e in stored(database)] == [20]


@pytest.mark.parametrize("count", [1, 3])
async def test_a_lone_call_is_written_at_once(tmp_path: Path, count: int) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}", MIGRATIONS_DIR)
    database.migrate()
    writer = AuditWriter(database)
    for number in range(count):
        await writer.write(event(number))
        assert len(stored(database)) == number + 1
