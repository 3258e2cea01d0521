"""Queries on voiceprint enrollments, the watchlist and deletions."""

from __future__ import annotations

from sqlmodel import Session, col, select

from anxin_identity.voice.models import VoiceDeletion, VoiceEnrollment, VoiceWatchlistEntry


def enrollment_of(session: Session, customer_id: str) -> VoiceEnrollment | None:
    """The customer's enrolled voiceprint, if any."""
    statement = select(VoiceEnrollment).where(VoiceEnrollment.customer_id == customer_id)
    return session.exec(statement).first()


def add_enrollment(session: Session, enrollment: VoiceEnrollment) -> VoiceEnrollment:
    """Store an enrollment in the caller's transaction."""
    session.add(enrollment)
    session.flush()
    return enrollment


def delete_enrollment(session: Session, enrollment: VoiceEnrollment) -> None:
    """Remove an enrollment (its ciphertext goes with the row)."""
    session.delete(enrollment)
    session.flush()


def watchlist(session: Session) -> list[VoiceWatchlistEntry]:
    """Every watchlist entry, oldest first."""
    statement = select(VoiceWatchlistEntry).order_by(col(VoiceWatchlistEntry.created_at))
    return list(session.exec(statement).all())


def get_watch_entry(session: Session, entry_id: str) -> VoiceWatchlistEntry | None:
    """One watchlist entry by id."""
    return session.get(VoiceWatchlistEntry, entry_id)


def add_watch_entry(session: Session, entry: VoiceWatchlistEntry) -> VoiceWatchlistEntry:
    """Store a watchlist entry."""
    session.add(entry)
    session.flush()
    return entry


def delete_watch_entry(session: Session, entry: VoiceWatchlistEntry) -> None:
    """Remove a watchlist entry."""
    session.delete(entry)
    session.flush()


def get_deletion(session: Session, event_id: str) -> VoiceDeletion | None:
    """The deletion a consent event already caused, if it was processed."""
    return session.get(VoiceDeletion, event_id)


def add_deletion(session: Session, deletion: VoiceDeletion) -> None:
    """Record a deletion (or a processed event with nothing to delete)."""
    session.add(deletion)
    session.flush()


def deletions_of(session: Session, customer_id: str) -> list[VoiceDeletion]:
    """Every recorded deletion for one customer."""
    statement = select(VoiceDeletion).where(VoiceDeletion.customer_id == customer_id)
    return list(session.exec(statement).all())
