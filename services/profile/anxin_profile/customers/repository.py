"""Queries on the customer master."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from anxin_profile.customers.models import Customer


def get_customer(session: Session, customer_id: str) -> Customer | None:
    """One customer by id, whatever its subsidiary (the caller decides access)."""
    return session.get(Customer, customer_id)


def list_customers(session: Session, subsidiary: str, limit: int, offset: int) -> list[Customer]:
    """A page of one subsidiary's customers, in id order."""
    statement = (
        select(Customer)
        .where(Customer.subsidiary == subsidiary)
        .order_by(col(Customer.customer_id))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement).all())


def count_customers(session: Session, subsidiary: str | None = None) -> int:
    """How many customers (of one subsidiary, or all)."""
    statement = select(func.count()).select_from(Customer)
    if subsidiary is not None:
        statement = statement.where(Customer.subsidiary == subsidiary)
    return int(session.exec(statement).one())
