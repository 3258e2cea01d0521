"""Queries on call sessions."""

from __future__ import annotations

from sqlmodel import Session

from anxin_identity.calls.models import CallSession


def get_call_session(session: Session, session_id: str) -> CallSession | None:
    """One call session by id, whoever opened it (the caller decides access)."""
    return session.get(CallSession, session_id)


def add_call_session(session: Session, call: CallSession) -> CallSession:
    """Store a new call session in the caller's transaction."""
    session.add(call)
    session.flush()
    return call


def save_call_session(session: Session, call: CallSession) -> None:
    """Write a changed call session in the caller's transaction."""
    session.add(call)
    session.flush()
