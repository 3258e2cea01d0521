"""Verification support for identity: contact-point and device matching, knowledge questions.

Answers are compared after normalisation (full-width digits, spaces, dashes, case, the
usual date formats) and are never returned. Nothing here logs a number.
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlmodel import Session

from anxin_profile.contacts import repository as contacts
from anxin_profile.customers import repository as customers
from anxin_profile.customers.models import Customer
from anxin_profile.normalize import compact, device_key, number_key, parse_date
from anxin_profile.verification.schemas import (
    ContactMatch,
    CustomerExists,
    KnowledgeQuestion,
    KnowledgeQuestions,
    MatchResult,
    OtpDestination,
)
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import NotFound, ValidationFailed
from anxin_shared.outbox import enqueue
from anxin_shared.principal import Principal

RESOURCE = "customer.verification"
NO_SUCH_CUSTOMER = "no such customer"

PROMPTS: dict[str, str] = {
    "id_last4": "请提供您身份证号码的后四位。",
    "birth_date": "请提供您的出生日期。",
    "policy_number": "请提供您名下一份保单的保单号。",
    "card_last4": "请提供您绑定银行卡卡号的后四位。",
}


def _customer(session: Session, customer_id: str) -> Customer:
    customer = customers.get_customer(session, customer_id)
    if customer is None:
        raise NotFound(NO_SUCH_CUSTOMER)
    return customer


def _matches(session: Session, points: list[Any]) -> MatchResult:
    found: list[ContactMatch] = []
    seen: set[tuple[str, str]] = set()
    for point in points:
        customer = customers.get_customer(session, point.customer_id)
        if customer is None or (point.customer_id, point.channel) in seen:
            continue
        seen.add((point.customer_id, point.channel))
        found.append(
            ContactMatch(
                customer_id=customer.customer_id,
                subsidiary=customer.subsidiary,
                channel=point.channel,
                first_seen=point.first_seen,
            )
        )
    return MatchResult(matches=found)


def match_number(session: Session, number: str) -> MatchResult:
    """Customers whose registered mobile number is this number."""
    return _matches(session, contacts.by_match_key(session, ("mobile",), number_key(number), True))


def match_device(session: Session, device_id: str) -> MatchResult:
    """Customers with this known device or app account."""
    key = device_key(device_id)
    return _matches(session, contacts.by_match_key(session, ("device", "app_account"), key, False))


def _answers(customer: Customer) -> dict[str, str]:
    answers = {
        "id_last4": compact(customer.id_number)[-4:],
        "birth_date": customer.birth_date.isoformat(),
    }
    if customer.policy_number:
        answers["policy_number"] = compact(customer.policy_number)
    if customer.bank_account:
        answers["card_last4"] = compact(customer.bank_account)[-4:]
    return answers


def questions(session: Session, customer_id: str) -> KnowledgeQuestions:
    """The questions this customer's data can answer (without the answers)."""
    available = _answers(_customer(session, customer_id))
    return KnowledgeQuestions(
        questions=[
            KnowledgeQuestion(question_id=key, prompt_zh=PROMPTS[key])
            for key in PROMPTS
            if key in available
        ]
    )


def normalise_answer(question_id: str, answer: str) -> str | None:
    """The answer in the form the stored value is compared in, or None if it cannot be."""
    if question_id == "birth_date":
        parsed = parse_date(answer)
        return parsed.isoformat() if parsed else None
    return compact(answer)


def check(session: Session, customer_id: str, question_id: str, answer: str) -> bool:
    """Whether the answer to the question is right, compared in constant time."""
    if question_id not in PROMPTS:
        raise ValidationFailed("unknown question_id")
    expected = _answers(_customer(session, customer_id)).get(question_id)
    given = normalise_answer(question_id, answer)
    if expected is None or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def otp_destination(session: Session, caller: Principal, customer_id: str) -> OtpDestination:
    """The registered mobile number, for the SMS adapter; the disclosure is audited."""
    customer = _customer(session, customer_id)
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event(
            "profile",
            caller,
            None,
            allowed=True,
            action="otp_destination",
            resource=RESOURCE,
            customer_ref=customer_id,
        ),
    )
    return OtpDestination(mobile=customer.mobile)


def exists(session: Session, customer_id: str) -> CustomerExists:
    """Whether the customer exists (for consent's registration checks)."""
    customer = customers.get_customer(session, customer_id)
    return CustomerExists(
        exists=customer is not None, subsidiary=customer.subsidiary if customer else None
    )
