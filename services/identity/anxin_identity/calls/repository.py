"""Queries on call sessions, factor attempts, one-time codes and the ANI watchlist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from anxin_identity.calls.models import (
    CallAniWatchlist,
    CallFactorAttempt,
    CallOneTimeCode,
    CallSession,
    CallSessionChange,
)

# A change is sent again on every read of the feed for this long after it was made, so
# one that commits after a later-numbered one (PostgreSQL allocates ids before commit)
# is still seen.
CHANGE_REDELIVERY = timedelta(seconds=5)
MAX_CHANGES_READ = 5000


def get_call_session(session: Session, session_id: str) -> CallSession | None:
    """One call session by id, whoever opened it (the caller decides access)."""
    return session.get(CallSession, session_id)


def add_call_session(session: Session, call: CallSession) -> CallSession:
    """Store a new call session in the caller's transaction."""
    session.add(call)
    session.flush()
    return call


def save_call_session(session: Session, call: CallSession) -> None:
    """Write a changed call session, and its change record, in the caller's transaction."""
    session.add(call)
    session.add(
        CallSessionChange(
            call_session_id=call.id, version=call.version, changed_at=datetime.now(UTC)
        )
    )
    session.flush()


def last_change(session: Session) -> int:
    """The newest change's sequence number (0 before the first)."""
    newest = session.exec(select(func.max(CallSessionChange.id))).one()
    return int(newest or 0)


def changes_after(
    session: Session, after: int, now: datetime
) -> tuple[list[tuple[int, str]], bool]:
    """(sequence, call-session id) of the changes after `after` and of the recent ones,
    and whether that is all of them (at most `MAX_CHANGES_READ` are read at once)."""
    statement = (
        select(CallSessionChange.id, CallSessionChange.call_session_id)
        .where(
            or_(
                col(CallSessionChange.id) > after,
                col(CallSessionChange.changed_at) >= now - CHANGE_REDELIVERY,
            )
        )
        .order_by(col(CallSessionChange.id))
        .limit(MAX_CHANGES_READ + 1)
    )
    rows = [(int(seq or 0), str(session_id)) for seq, session_id in session.exec(statement)]
    return rows[:MAX_CHANGES_READ], len(rows) <= MAX_CHANGES_READ


def count_sessions_opened_since(session: Session, agent: str, since: datetime) -> int:
    """Sessions this agent opened since `since` (flood throttling)."""
    statement = select(func.count()).where(
        CallSession.agent == agent, col(CallSession.created_at) >= since
    )
    return int(session.exec(statement).one())


def add_attempt(session: Session, attempt: CallFactorAttempt) -> CallFactorAttempt:
    """Record one factor attempt in the caller's transaction."""
    session.add(attempt)
    session.flush()
    return attempt


def attempts_of_session(session: Session, call_session_id: str) -> list[CallFactorAttempt]:
    """Every attempt made in one session, oldest first."""
    statement = (
        select(CallFactorAttempt)
        .where(CallFactorAttempt.call_session_id == call_session_id)
        .order_by(col(CallFactorAttempt.id))
    )
    return list(session.exec(statement).all())


def failures_of_customer(
    session: Session, customer_id: str, factor: str, since: datetime
) -> list[datetime]:
    """When this customer's `factor` failed since `since`, in any session."""
    statement = select(CallFactorAttempt.created_at).where(
        CallFactorAttempt.customer_id == customer_id,
        CallFactorAttempt.factor == factor,
        col(CallFactorAttempt.success).is_(False),
        col(CallFactorAttempt.created_at) >= since,
    )
    return list(session.exec(statement).all())


def count_attempts_since(session: Session, call_session_id: str, since: datetime) -> int:
    """Attempts in one session since `since` (flood throttling)."""
    statement = select(func.count()).where(
        CallFactorAttempt.call_session_id == call_session_id,
        col(CallFactorAttempt.created_at) >= since,
    )
    return int(session.exec(statement).one())


def add_code(session: Session, code: CallOneTimeCode) -> CallOneTimeCode:
    """Store a new one-time code (its hash only)."""
    session.add(code)
    session.flush()
    return code


def get_code(session: Session, code_id: str) -> CallOneTimeCode | None:
    """One one-time code by id."""
    return session.get(CallOneTimeCode, code_id)


def latest_code(session: Session, call_session_id: str) -> CallOneTimeCode | None:
    """The newest code sent in this session."""
    statement = (
        select(CallOneTimeCode)
        .where(CallOneTimeCode.call_session_id == call_session_id)
        .order_by(col(CallOneTimeCode.created_at).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def count_codes_since(session: Session, call_session_id: str, since: datetime) -> int:
    """Codes sent in this session since `since`."""
    statement = select(func.count()).where(
        CallOneTimeCode.call_session_id == call_session_id,
        col(CallOneTimeCode.created_at) >= since,
    )
    return int(session.exec(statement).one())


def use_code(session: Session, code_id: str, now: datetime) -> bool:
    """Mark a code used if nobody did yet (one conditional UPDATE: concurrent replays lose)."""
    statement = (
        update(CallOneTimeCode)
        .where(col(CallOneTimeCode.id) == code_id, col(CallOneTimeCode.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    )
    result = session.execute(statement)
    session.flush()
    return bool(getattr(result, "rowcount", 0) == 1)


def ani_watchlisted(session: Session, ani_hash: str) -> bool:
    """Whether this keyed ANI hash is on the watchlist."""
    return session.get(CallAniWatchlist, ani_hash) is not None


def add_ani_watch(session: Session, entry: CallAniWatchlist) -> None:
    """Put a keyed ANI hash on the watchlist (idempotent)."""
    if session.get(CallAniWatchlist, entry.ani_hash) is None:
        session.add(entry)
        session.flush()
