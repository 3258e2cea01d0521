"""Database sessions and migrations for a service's own database.

SQLite (WAL mode, foreign keys on, a busy timeout) is the embedded default;
PostgreSQL is production. SQLite allows one writer at a time: writers of one
process queue for it at a `WriteGate` (a Python lock), not in SQLite's busy
handler, which sleeps in steps of up to 100 ms and let a backend's p99 grow to
most of a second under concurrent writes (`benchmarks/gateway.py`).

The request-scoped session (`anxin_shared.deps.db_session`) commits once, when
the handler returned without error, and rolls back otherwise: services only
`flush()`.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

SQLITE_BUSY_SECONDS = 30
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


class WriteGate:
    """One SQLite writer per process: a connection takes the gate before the first write
    of a transaction and gives it back as the transaction ends (its commit or rollback)
    or as it returns to the pool, whichever comes first. The commit event comes just
    before SQLite's commit: the next writer may find the lock for that instant, and
    SQLite's busy handler (first retry after 1 ms) covers it."""

    KEY = "anxin_write_gate"

    def __init__(self, timeout: float = SQLITE_BUSY_SECONDS) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether a writer holds the gate now."""
        return self._lock.locked()

    def install(self, engine: Engine) -> None:
        """Hook the gate into `engine`'s statements and pool."""
        _GATES[engine] = self
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._transaction_ends)
        event.listen(engine, "rollback", self._transaction_ends)
        event.listen(engine.pool, "checkin", self._release)
        event.listen(engine.pool, "invalidate", self._release_invalidated)

    def _before_execute(self, conn: Any, *args: Any) -> None:
        statement = str(args[1]).lstrip()[:7].upper()
        if conn.info.get(self.KEY) or statement.startswith(_READS):
            return
        if not self._lock.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked")
        conn.info[self.KEY] = True

    def _transaction_ends(self, conn: Any) -> None:
        if conn.info.pop(self.KEY, False):
            self._lock.release()

    def _release(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(self.KEY, False):
            self._lock.release()

    def _release_invalidated(self, _dbapi_connection: Any, record: Any, _exc: Any) -> None:
        self._release(_dbapi_connection, record)


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: Engine) -> WriteGate | None:
    """The write gate of an engine on a SQLite file (None for PostgreSQL or in memory)."""
    return _GATES.get(engine)


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if path and path != ":memory:":
            WriteGate().install(engine)
        return engine
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=5
    )


class Database:
    """A service's own database: engine, sessions, migrations, readiness."""

    def __init__(self, url: str, migrations_dir: Path | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.migrations_dir = migrations_dir

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error (see `finish`)."""
        session = self.open_session()
        try:
            yield session
        except BaseException as exc:
            self.finish(session, exc)
            raise
        self.finish(session, None)

    def open_session(self) -> Session:
        """A new session; it touches the database only when first used."""
        return Session(self.engine, expire_on_commit=False)

    def finish(self, session: Session, error: BaseException | None) -> None:
        """End a unit of work: commit when it succeeded, roll back when `error` ended it,
        then close the session (its connection goes back to the pool).

        One exception to the rollback: an error marked `keeps_audit` (a policy
        denial) still commits, because the audit event of the decision was
        written before the raise and a denial must be traceable too. Services
        raise such errors before any business write.
        """
        try:
            if error is None or getattr(error, "keeps_audit", False):
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def alembic_config(self) -> Config:
        """An Alembic config for this service's migrations and database."""
        if self.migrations_dir is None:
            raise RuntimeError("this database has no migrations folder")
        config = Config()
        config.set_main_option("script_location", str(self.migrations_dir))
        config.attributes["engine"] = self.engine
        return config

    def migrate(self) -> None:
        """Upgrade the database to the newest migration of every branch."""
        command.upgrade(self.alembic_config(), "heads")


def run_alembic_env(target_metadata: Any) -> None:
    """Body of each service's `migrations/env.py`: run online on the configured engine."""
    from alembic import context

    engine: Engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
