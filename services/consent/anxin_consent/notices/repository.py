"""Queries on consent notices."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from anxin_consent.notices.models import ConsentNotice


def get_notice(session: Session, notice_key: str, version: int) -> ConsentNotice | None:
    """One version of one notice."""
    statement = select(ConsentNotice).where(
        ConsentNotice.notice_key == notice_key, ConsentNotice.version == version
    )
    return session.exec(statement).first()


def get_notices(session: Session, ids: set[int]) -> dict[int, ConsentNotice]:
    """Notices by id."""
    if not ids:
        return {}
    statement = select(ConsentNotice).where(col(ConsentNotice.id).in_(sorted(ids)))
    return {notice.id: notice for notice in session.exec(statement).all() if notice.id is not None}


def add_notice(session: Session, notice: ConsentNotice) -> ConsentNotice:
    """Store a new notice version in the caller's transaction."""
    session.add(notice)
    session.flush()
    return notice


def save_notice(session: Session, notice: ConsentNotice) -> ConsentNotice:
    """Store a status change (the content columns are refused by triggers)."""
    session.add(notice)
    session.flush()
    return notice


def list_notices(session: Session, status: str, limit: int, offset: int) -> list[ConsentNotice]:
    """A page of notices in one status, by key then version."""
    statement = (
        select(ConsentNotice)
        .where(ConsentNotice.status == status)
        .order_by(col(ConsentNotice.notice_key), col(ConsentNotice.version))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement).all())


def count_notices(session: Session, status: str | None = None) -> int:
    """How many notices (in one status, or all)."""
    statement = select(func.count()).select_from(ConsentNotice)
    if status is not None:
        statement = statement.where(ConsentNotice.status == status)
    return int(session.exec(statement).one())
