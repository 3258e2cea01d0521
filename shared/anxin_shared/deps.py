"""FastAPI dependency aliases every service uses: runtime, session, principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from anxin_shared.app import ServiceRuntime, current_principal, get_runtime, runtime_of
from anxin_shared.principal import Principal

__all__ = [
    "PrincipalDep",
    "RuntimeDep",
    "SessionDep",
    "current_principal",
    "db_session",
    "require_service",
]


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; committed before the response is sent.

    Opened on the event loop (a session touches the database only when first used)
    and finished, commit or rollback and close, in one worker-thread hop, shielded
    from cancellation: a session left open would keep its connection, and with it
    SQLite's write gate."""
    database = runtime_of(request).database
    session = database.open_session()
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(database.finish, session, exc)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(database.finish, session, None)


def require_service(resource: str, action: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency factory for internal routes: a peer service allowed by policy."""

    async def dependency(request: Request) -> Principal:
        return runtime_of(request).require_service(resource, action)(request)

    dependency.__name__ = f"require_service_{resource}_{action}".replace(".", "_")
    return dependency


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
