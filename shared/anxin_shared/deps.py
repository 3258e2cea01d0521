"""FastAPI dependency aliases every service uses: runtime, session, principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from anxin_shared.app import ServiceRuntime, current_principal, get_runtime
from anxin_shared.principal import Principal

__all__ = [
    "PrincipalDep",
    "RuntimeDep",
    "SessionDep",
    "current_principal",
    "db_session",
    "require_service",
]


def db_session(request: Request) -> Iterator[Session]:
    """One session per request; committed before the response is sent."""
    yield from get_runtime(request).database.request_session()


def require_service(resource: str, action: str) -> Callable[[Request], Principal]:
    """Dependency factory for internal routes: a peer service allowed by policy."""

    def dependency(request: Request) -> Principal:
        return get_runtime(request).require_service(resource, action)(request)

    dependency.__name__ = f"require_service_{resource}_{action}".replace(".", "_")
    return dependency


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
