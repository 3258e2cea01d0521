"""SQLite writers of one process queue at the write gate, not in SQLite's busy handler."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from anxin_shared.db import Database, WriteGate, write_gate


def make_table(database: Database) -> None:
    with database.session() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, body TEXT)"))


def gate_of(database: Database) -> WriteGate:
    gate = write_gate(database.engine)
    assert gate is not None
    return gate


def test_concurrent_writers_all_commit_through_the_gate(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    make_table(database)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                with database.session() as session:
                    session.execute(text("SELECT count(*) FROM note")).one()
                    session.execute(
                        text("INSERT INTO note (body) VALUES (:body)"), {"body": f"{worker}-{n}"}
                    )
        except BaseException as exc:  # collected: the test thread asserts
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM note")).scalar_one() == 200
    assert not gate_of(database).held  # every writer gave the gate back


def test_the_gate_is_held_from_the_first_write_to_the_commit_only(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    make_table(database)
    gate = gate_of(database)
    with database.session() as session:
        session.execute(text("SELECT count(*) FROM note")).one()
        assert not gate.held  # reading takes no gate
        session.execute(text("INSERT INTO note (body) VALUES ('a')"))
        assert gate.held
        session.commit()
        assert not gate.held  # given back at the commit, still checked out
        session.execute(text("INSERT INTO note (body) VALUES ('b')"))
        assert gate.held
    assert not gate.held  # and at the end of the unit of work


def test_a_failed_transaction_gives_the_gate_back(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    make_table(database)
    gate = gate_of(database)
    try:
        with database.session() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('a')"))
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    assert not gate.held
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM note")).scalar_one() == 0
