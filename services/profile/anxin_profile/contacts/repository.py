"""Queries on contact points."""

from __future__ import annotations

from sqlmodel import Session, col, select

from anxin_profile.contacts.models import ContactPoint


def for_customer(session: Session, customer_id: str) -> list[ContactPoint]:
    """A customer's contact points, by channel then first sighting."""
    statement = (
        select(ContactPoint)
        .where(ContactPoint.customer_id == customer_id)
        .order_by(col(ContactPoint.channel), col(ContactPoint.first_seen))
    )
    return list(session.exec(statement).all())


def by_match_key(
    session: Session, channels: tuple[str, ...], match_key: str, registered_only: bool
) -> list[ContactPoint]:
    """Contact points of the given channels with this normalised value."""
    statement = select(ContactPoint).where(
        col(ContactPoint.channel).in_(channels), ContactPoint.match_key == match_key
    )
    if registered_only:
        statement = statement.where(col(ContactPoint.registered).is_(True))
    return list(session.exec(statement.order_by(col(ContactPoint.customer_id))).all())


def all_of_channel(session: Session, channel: str) -> list[ContactPoint]:
    """Every contact point of one channel (for screening)."""
    return list(session.exec(select(ContactPoint).where(ContactPoint.channel == channel)).all())


def add(session: Session, point: ContactPoint) -> None:
    """Stage a new contact point."""
    session.add(point)
