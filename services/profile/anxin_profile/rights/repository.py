"""Queries on rights requests and the data a deletion removes."""

from __future__ import annotations

from sqlmodel import Session, col, select

from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers.models import Note, Preference
from anxin_profile.rights.models import RightsRequest


def get_request(session: Session, request_id: str) -> RightsRequest | None:
    """One request by id."""
    return session.get(RightsRequest, request_id)


def requests_for(session: Session, customer_id: str) -> list[RightsRequest]:
    """A customer's requests, oldest first."""
    statement = (
        select(RightsRequest)
        .where(RightsRequest.customer_id == customer_id)
        .order_by(col(RightsRequest.created_at))
    )
    return list(session.exec(statement).all())


def delete_optional_data(session: Session, customer_id: str, keep_registered: bool) -> int:
    """Delete notes, preferences and contact points (the registered mobile kept if asked)."""
    removed = 0
    for note in session.exec(select(Note).where(Note.customer_id == customer_id)).all():
        session.delete(note)
        removed += 1
    preference = session.get(Preference, customer_id)
    if preference is not None:
        session.delete(preference)
        removed += 1
    points = session.exec(select(ContactPoint).where(ContactPoint.customer_id == customer_id))
    for point in points.all():
        if keep_registered and point.channel == "mobile" and point.registered:
            continue
        session.delete(point)
        removed += 1
    return removed
