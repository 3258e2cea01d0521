"""The demo seed: 240 customers across the subsidiaries, with their contact points.

Running it again adds nothing. A few deliberately bad records (see `bad_records`)
are seeded separately so that the data-quality screening has something to find.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers.models import Customer, Holding, Note, Preference
from anxin_profile.demo_data import (
    DemoCustomer,
    demo_app_account,
    demo_device_id,
    gb11643_check_char,
    generate_customers,
    luhn_check_digit,
)
from anxin_profile.normalize import device_key, number_key

DEMO_CUSTOMER_COUNT = 240
_EPOCH = datetime(2018, 1, 1, 9, 0, tzinfo=UTC)
_CONTACT_NAMESPACE = uuid.UUID("6f1c1a52-8f0e-4c55-9d0a-5b3c8f7e2a10")


def _point(
    customer_id: str,
    channel: str,
    value: str,
    key: str,
    source: str,
    first_seen: datetime,
    registered: bool = False,
) -> ContactPoint:
    contact_id = uuid.uuid5(_CONTACT_NAMESPACE, f"{customer_id}:{channel}:{key}").hex
    return ContactPoint(
        contact_id=contact_id,
        customer_id=customer_id,
        channel=channel,
        value=value,
        match_key=key,
        source_channel=source,
        registered=registered,
        first_seen=first_seen,
    )


def demo_contact_points(demo: DemoCustomer | Customer) -> list[ContactPoint]:
    """The contact points of one demo customer: registered mobile, e-mail, address, devices."""
    number = int(demo.customer_id[1:]) if demo.customer_id[1:].isdigit() else 0
    seen = _EPOCH + timedelta(days=(number * 7) % 2500)
    points = [
        _point(
            demo.customer_id,
            "mobile",
            demo.mobile,
            number_key(demo.mobile),
            "registration",
            seen,
            registered=True,
        )
    ]
    if demo.email:
        points.append(
            _point(demo.customer_id, "email", demo.email, demo.email.lower(), "online", seen)
        )
    if demo.address:
        points.append(
            _point(demo.customer_id, "address", demo.address, demo.address, "branch", seen)
        )
    device = demo_device_id(demo.customer_id)
    if device:
        points.append(
            _point(
                demo.customer_id,
                "device",
                device,
                device_key(device),
                "app",
                seen + timedelta(days=30),
            )
        )
    app_account = demo_app_account(demo.customer_id)
    if app_account:
        points.append(
            _point(
                demo.customer_id,
                "app_account",
                app_account,
                device_key(app_account),
                "app",
                seen + timedelta(days=45),
            )
        )
    return points


SERVICING_AGENTS = {
    "life": ("agent.li", "senior.chen"),
    "pc": ("agent.zhang", "contractor.sun"),
    "bank": ("agent.wang",),
}
BRANCHES = ("bj", "sh", "gz", "sz", "cd")
PRODUCTS = {"life": "安信人寿终身寿险", "pc": "安信财险机动车辆保险"}
_PREFERRED = ("phone", "sms", "email", "app")


def servicing(customer_id: str, subsidiary: str) -> tuple[str, str]:
    """The demo branch and servicing agent of a customer (deterministic)."""
    number = int(customer_id[1:]) if customer_id[1:].isdigit() else 0
    agents = SERVICING_AGENTS[subsidiary]
    return f"{subsidiary}-{BRANCHES[number % len(BRANCHES)]}", agents[number % len(agents)]


def _uid(*parts: str) -> str:
    return uuid.uuid5(_CONTACT_NAMESPACE, ":".join(parts)).hex


def portrait_rows(customer: Customer) -> list[Holding | Note | Preference]:
    """The demo holdings, note and preferences of one customer."""
    number = int(customer.customer_id[1:]) if customer.customer_id[1:].isdigit() else 0
    opened = _EPOCH + timedelta(days=(number * 11) % 2000)
    rows: list[Holding | Note | Preference] = []
    if customer.bank_account:
        rows.append(
            Holding(
                holding_id=_uid(customer.customer_id, "bank", customer.bank_account),
                customer_id=customer.customer_id,
                kind="bank_account",
                number=customer.bank_account,
                product="安信银行借记卡" if customer.subsidiary == "bank" else "缴费扣款账户",
                subsidiary=customer.subsidiary,
                opened_at=opened,
            )
        )
    if customer.policy_number:
        rows.append(
            Holding(
                holding_id=_uid(customer.customer_id, "policy", customer.policy_number),
                customer_id=customer.customer_id,
                kind="insurance_policy",
                number=customer.policy_number,
                product=PRODUCTS.get(customer.subsidiary, "保险产品"),
                subsidiary=customer.subsidiary,
                opened_at=opened,
            )
        )
    if customer.notes:
        rows.append(
            Note(
                note_id=_uid(customer.customer_id, "note"),
                customer_id=customer.customer_id,
                author=customer.servicing_agent or "system",
                text=customer.notes,
                created_at=opened + timedelta(days=90),
            )
        )
    tags = [customer.value_tier, customer.lifecycle_stage]
    if customer.household_id:
        tags.append("family")
    preferences = {
        "preferred_channel": _PREFERRED[number % len(_PREFERRED)],
        "quiet_hours": "21:00-09:00",
        "marketing_opt_in": number % 3 != 0,
    }
    rows.append(
        Preference(
            customer_id=customer.customer_id,
            tags=json.dumps(tags, ensure_ascii=False),
            contact_preferences=json.dumps(preferences, ensure_ascii=False),
        )
    )
    return rows


def seed_customers(session: Session, count: int = DEMO_CUSTOMER_COUNT) -> int:
    """Insert the demo customers that are missing; return how many were added."""
    added = 0
    now = datetime.now(UTC)
    for demo in generate_customers(count):
        if session.get(Customer, demo.customer_id) is not None:
            continue
        branch, agent = servicing(demo.customer_id, demo.subsidiary)
        customer = Customer(**asdict(demo), created_at=now, branch=branch, servicing_agent=agent)
        session.add(customer)
        for row in portrait_rows(customer):
            session.add(row)
        added += 1
    session.flush()
    seed_contact_points(session)
    return added


def seed_contact_points(session: Session) -> int:
    """Give every customer without contact points its demo contact points."""
    have = set(session.exec(select(ContactPoint.customer_id).distinct()).all())
    added = 0
    for customer in session.exec(select(Customer)).all():
        # Bad records are seeded with exactly the contact points they are meant to have.
        if customer.customer_id in have or customer.customer_id.startswith("Q"):
            continue
        for point in demo_contact_points(customer):
            session.add(point)
            added += 1
    session.flush()
    return added


# -- deliberately bad records (separate from the 240 valid demo customers) -----------------


def _resident_id(area: str, born: date, sequence: str, male: bool) -> str:
    first17 = f"{area}{born:%Y%m%d}{sequence}{'1' if male else '2'}"
    return first17 + gb11643_check_char(first17)


def _card(partial: str) -> str:
    return partial + luhn_check_digit(partial)


def bad_records(demo: list[DemoCustomer] | None = None) -> list[tuple[Customer, list[str]]]:
    """Records that break the data-quality rules, with the finding kinds each should raise.

    Q000001 a wrong ID check character; Q000002 an ID that disagrees with the birth date;
    Q000003 a duplicate of a valid demo customer; Q000004 no contact point at all;
    Q000005 a mobile number also registered to an unrelated demo customer; Q000006 a
    bank card failing the Luhn check.
    """
    demo = demo or generate_customers(DEMO_CUSTOMER_COUNT)
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    original = next(c for c in demo if c.subsidiary == "bank" and c.household_role == "head")
    shared = next(c for c in demo if c.subsidiary == "pc" and c.household_role == "head")
    good_id = _resident_id("110105", date(1980, 5, 6), "03", True)
    wrong_check = good_id[:17] + ("0" if good_id[17] != "0" else "1")

    def make(customer_id: str, subsidiary: str, **values: object) -> Customer:
        branch, agent = servicing("C" + customer_id[1:], subsidiary)
        base: dict[str, object] = {
            "customer_id": customer_id,
            "subsidiary": subsidiary,
            "gender": "M",
            "id_type": "resident_id",
            "email": None,
            "address": "北京市朝阳区建国路88号",
            "bank_account": None,
            "policy_number": None,
            "value_tier": "standard",
            "lifecycle_stage": "active",
            "notes": None,
            "household_id": None,
            "household_role": None,
            "created_at": now,
            "branch": branch,
            "servicing_agent": agent,
        }
        base.update(values)
        return Customer(**base)  # type: ignore[arg-type]

    return [
        (
            make(
                "Q000001",
                "life",
                name="钱错校",
                birth_date=date(1980, 5, 6),
                id_number=wrong_check,
                mobile="13900000001",
                policy_number="LP20190000000001",
            ),
            ["invalid_id"],
        ),
        (
            make(
                "Q000002",
                "pc",
                name="孙错生",
                birth_date=date(1981, 7, 8),
                id_number=_resident_id("310104", date(1981, 7, 9), "15", True),
                mobile="13900000002",
                policy_number="PC20200000000002",
            ),
            ["inconsistent_id"],
        ),
        (
            make(
                "Q000003",
                original.subsidiary,
                name=original.name,
                gender=original.gender,
                birth_date=original.birth_date,
                id_number=_resident_id(
                    original.id_number[:6],
                    original.birth_date,
                    "99",
                    original.gender == "M",
                ),
                mobile="13900000003",
                bank_account=_card("622202000000000003"[:18]),
            ),
            ["duplicate_customer"],
        ),
        (
            make(
                "Q000004",
                "life",
                name="李无联",
                birth_date=date(1975, 3, 3),
                id_number=_resident_id("440106", date(1975, 3, 3), "21", True),
                mobile="13900000004",
                policy_number="LP20180000000004",
            ),
            ["missing_contact"],
        ),
        (
            make(
                "Q000005",
                shared.subsidiary,
                name="周共号",
                birth_date=date(1990, 9, 9),
                id_number=_resident_id("510107", date(1990, 9, 9), "33", True),
                mobile=shared.mobile,
                policy_number="PC20210000000005",
            ),
            ["shared_number"],
        ),
        (
            make(
                "Q000006",
                "bank",
                name="吴错卡",
                gender="F",
                birth_date=date(1988, 12, 1),
                id_number=_resident_id("330106", date(1988, 12, 1), "44", False),
                mobile="13900000006",
                bank_account=_card("6222020000000006")[:-1]
                + str((int(_card("6222020000000006")[-1]) + 1) % 10),
            ),
            ["invalid_bank_account"],
        ),
    ]


def seed_bad_records(session: Session) -> int:
    """Insert the deliberately bad records that are missing (with their contact points)."""
    added = 0
    for customer, _kinds in bad_records():
        if session.get(Customer, customer.customer_id) is not None:
            continue
        session.add(customer)
        for row in portrait_rows(customer):
            session.add(row)
        if customer.customer_id != "Q000004":
            for point in demo_contact_points(customer):
                session.add(point)
        added += 1
    session.flush()
    return added
