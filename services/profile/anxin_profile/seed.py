"""The demo seed: 240 customers across the subsidiaries. Running it again adds nothing."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_profile.customers.models import Customer
from anxin_profile.demo_data import generate_customers

DEMO_CUSTOMER_COUNT = 240


def seed_customers(session: Session, count: int = DEMO_CUSTOMER_COUNT) -> int:
    """Insert the demo customers that are missing; return how many were added."""
    added = 0
    now = datetime.now(UTC)
    for demo in generate_customers(count):
        if session.get(Customer, demo.customer_id) is not None:
            continue
        session.add(Customer(**asdict(demo), created_at=now))
        added += 1
    session.flush()
    return added
