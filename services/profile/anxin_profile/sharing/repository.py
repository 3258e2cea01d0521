"""Queries on consent withdrawals."""

from __future__ import annotations

from sqlmodel import Session, col, select

from anxin_profile.sharing.models import ConsentWithdrawal


def get_withdrawal(session: Session, event_id: str) -> ConsentWithdrawal | None:
    """A withdrawal event by id."""
    return session.get(ConsentWithdrawal, event_id)


def withdrawals_for(session: Session, customer_id: str) -> list[ConsentWithdrawal]:
    """Every withdrawal received for one customer."""
    statement = select(ConsentWithdrawal).where(ConsentWithdrawal.customer_id == customer_id)
    return list(session.exec(statement.order_by(col(ConsentWithdrawal.withdrawn_at))).all())
