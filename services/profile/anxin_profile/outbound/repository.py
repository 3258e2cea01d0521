"""Queries on call lists and dial references."""

from __future__ import annotations

from sqlmodel import Session

from anxin_profile.outbound.models import DialReference


def get_reference(session: Session, ref_hash: str) -> DialReference | None:
    """A dial reference by the hash of its value."""
    return session.get(DialReference, ref_hash)
