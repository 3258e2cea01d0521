"""Queries on the customer master and its portrait tables."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from anxin_profile.customers.models import Customer, Holding, Note, Preference


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


def customers_after(
    session: Session, cursor: str, subsidiaries: list[str], limit: int
) -> list[Customer]:
    """The next customers (in id order) after `cursor`, of the given subsidiaries."""
    statement = (
        select(Customer)
        .where(Customer.customer_id > cursor, col(Customer.subsidiary).in_(subsidiaries))
        .order_by(col(Customer.customer_id))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def count_in(session: Session, subsidiaries: list[str]) -> int:
    """How many customers the given subsidiaries hold."""
    statement = (
        select(func.count()).select_from(Customer).where(col(Customer.subsidiary).in_(subsidiaries))
    )
    return int(session.exec(statement).one())


def by_id_number(session: Session, id_number: str) -> Customer | None:
    """The customer with this ID number, if any."""
    return session.exec(select(Customer).where(Customer.id_number == id_number)).first()


def same_person(session: Session, customer: Customer) -> list[Customer]:
    """Other customers with the same name, birth date and gender (possible duplicates)."""
    statement = select(Customer).where(
        Customer.name == customer.name,
        Customer.birth_date == customer.birth_date,
        Customer.gender == customer.gender,
        Customer.customer_id != customer.customer_id,
        Customer.record_status != "erased",
    )
    return list(session.exec(statement).all())


def household_members(session: Session, household_id: str) -> list[Customer]:
    """Every customer of one household, in id order."""
    statement = (
        select(Customer)
        .where(Customer.household_id == household_id)
        .order_by(col(Customer.customer_id))
    )
    return list(session.exec(statement).all())


def holdings_for(session: Session, customer_id: str) -> list[Holding]:
    """A customer's bank accounts and insurance policies."""
    statement = (
        select(Holding)
        .where(Holding.customer_id == customer_id)
        .order_by(col(Holding.kind), col(Holding.holding_id))
    )
    return list(session.exec(statement).all())


def notes_for(session: Session, customer_id: str) -> list[Note]:
    """A customer's interaction notes, newest first."""
    statement = (
        select(Note).where(Note.customer_id == customer_id).order_by(col(Note.created_at).desc())
    )
    return list(session.exec(statement).all())


def preference_for(session: Session, customer_id: str) -> Preference | None:
    """A customer's tags and contact preferences."""
    return session.get(Preference, customer_id)


def segment_page(
    session: Session,
    subsidiary: str,
    value_tier: str | None,
    lifecycle_stage: str | None,
    limit: int,
) -> list[Customer]:
    """Active customers of a subsidiary in a segment (for outbound lists)."""
    statement = select(Customer).where(
        Customer.subsidiary == subsidiary, Customer.record_status == "active"
    )
    if value_tier:
        statement = statement.where(Customer.value_tier == value_tier)
    if lifecycle_stage:
        statement = statement.where(Customer.lifecycle_stage == lifecycle_stage)
    return list(session.exec(statement.order_by(col(Customer.customer_id)).limit(limit)).all())
