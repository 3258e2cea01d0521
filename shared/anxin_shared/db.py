"""Database sessions and migrations for a service's own database.

SQLite (WAL mode, foreign keys on, a busy timeout) is the embedded default;
PostgreSQL is production. The request-scoped session commits once, when the
handler returned without error, and rolls back otherwise: services only
`flush()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

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
        """A unit of work: commit on success, roll back on any error.

        One exception to the rollback: an error marked `keeps_audit` (a policy
        denial) still commits, because the audit event of the decision was
        written before the raise and a denial must be traceable too. Services
        raise such errors before any business write.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                if getattr(exc, "keeps_audit", False):
                    session.commit()
                else:
                    session.rollback()
                raise

    def request_session(self) -> Iterator[Session]:
        """FastAPI dependency: one session per request, committed in one place."""
        with self.session() as session:
            yield session

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
