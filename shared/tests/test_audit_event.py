"""The audit event schema: typed outreach fields are validated, and an event that does not use
them encodes (and so hashes) exactly as it did before they existed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from anxin_shared.audit_event import (
    MAX_MESSAGE_VARIABLES,
    OMITTED_WHEN_UNSET,
    AuditEvent,
    outreach_message_event,
)
from anxin_shared.principal import Principal

SYSTEM = Principal(subject="service:profile", kind="service", subsidiary="group")
PLAIN = {
    "event_id": "0123456789abcdef",
    "occurred_at": datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    "producer": "profile",
    "actor": "agent.li",
    "actor_kind": "user",
    "roles": ["life_agent"],
    "actor_subsidiary": "life",
    "domain": "life",
    "action": "read",
    "resource": "customer.profile",
    "customer_ref": "C000002",
    "allowed": True,
    "decision_id": "dec-1",
    "reasons": ["allowed by p, life_agent"],
    "field_views": {"mobile": "masked"},
}
# The canonical encoding (and its chain hash at seq 1 after genesis) of PLAIN, as written by
# the schema before the outreach fields were added (commit 9745707).
PLAIN_BODY = (
    '{"action":"read","actor":"agent.li","actor_kind":"user","actor_subsidiary":"life",'
    '"allowed":true,"assurance_level":null,"call_session":null,"client":null,'
    '"consent_id":null,"customer_ref":"C000002","decision_id":"dec-1",'
    '"document_key_id":null,"document_kind":null,"document_sha256":null,"domain":"life",'
    '"event_id":"0123456789abcdef","failed_fact":null,"field_views":{"mobile":"masked"},'
    '"kind":"decision","matched_rule":null,"method":null,'
    '"occurred_at":"2026-11-26T12:00:00Z","path":null,"policy_version":null,'
    '"producer":"profile","reasons":["allowed by p, life_agent"],"request_id":null,'
    '"resource":"customer.profile","roles":["life_agent"],"status_code":null,'
    '"trace_id":null,"unmask_reason":null}'
)
PLAIN_HASH = "dd3cfc7acce0030292f94123599c0645c48135455d4b9dfa59b42bcaa42bad12"
OUTREACH = {
    "message_id": "msg-0123456789abcdef0123",
    "message_purpose": "security_education",
    "message_channel": "sms",
    "message_template": "tpl-edu-sms-zh",
    "message_variables": {"customer_name": "陈*", "brand": "安信人寿", "hotline": "95500"},
    "campaign_id": "cmp-0123456789abcdef",
    "delivery_status": "suppressed",
    "delivery_reason": "not_opted_in",
}


def encode(event: dict[str, Any]) -> str:
    """The audit chain's canonical JSON (anxin_audit.events.chain.canonical)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def first_record_hash(body: str) -> str:
    """The chain hash of a body stored at seq 1, right after genesis."""
    return hashlib.sha256(f"1\n{'0' * 64}\n{body}".encode()).hexdigest()


def test_an_event_without_outreach_fields_encodes_and_hashes_as_before() -> None:
    sent = AuditEvent.model_validate(PLAIN).as_json()
    assert not OMITTED_WHEN_UNSET & set(sent)
    assert encode(sent) == PLAIN_BODY
    assert first_record_hash(encode(sent)) == PLAIN_HASH
    # What the audit service received (and re-validated) encodes the same way again.
    assert encode(AuditEvent.model_validate(sent).as_json()) == PLAIN_BODY


def test_an_outreach_event_carries_its_typed_fields() -> None:
    event = AuditEvent.model_validate({**PLAIN, **OUTREACH}).as_json()
    assert {name: event[name] for name in OUTREACH} == OUTREACH
    assert "fraud_signal_id" not in event  # unset: left out, not null
    assert encode(event) != PLAIN_BODY


def test_the_builder_validates_and_leaves_reasons_to_decisions() -> None:
    event = outreach_message_event(
        "profile",
        SYSTEM,
        message_id="msg-1",
        purpose="fraud_alert",
        channel="app_push",
        template="-",
        variables={},
        status="failed",
        reason="no_template",
        customer_ref="C000002",
        fraud_signal_id="evt-fraud-0001",
        allowed=False,
    )
    assert (event["kind"], event["action"], event["resource"]) == (
        "outreach.message",
        "send",
        "outreach.message",
    )
    assert event["reasons"] == [] and event["allowed"] is False
    assert (event["fraud_signal_id"], event["message_variables"]) == ("evt-fraud-0001", {})
    assert "campaign_id" not in event
    with pytest.raises(ValidationError, match="delivery_status"):
        outreach_message_event(
            "profile",
            SYSTEM,
            message_id="msg-1",
            purpose="fraud_alert",
            channel="sms",
            template="tpl-alert-sms-zh",
            variables={},
            status="delivered",
            reason=None,
            customer_ref="C000002",
            allowed=True,
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"message_template": "t" * 65}, "message_template"),
        ({"message_id": "msg 1; drop"}, "message_id"),
        ({"message_channel": "SMS"}, "message_channel"),
        ({"delivery_reason": "r" * 33}, "delivery_reason"),
        ({"delivery_status": "delivered"}, "delivery_status"),
        ({"campaign_id": 12345}, "campaign_id"),
        ({"message_variables": ["customer_name"]}, "message_variables"),
        ({"message_variables": {"customer_name": 7}}, "message_variables"),
        ({"message_variables": {"Customer-Name": "陈*"}}, "message_variables"),
        ({"message_variables": {"event_kind": "x" * 201}}, "message_variables"),
        (
            {
                "message_variables": {
                    f"v_{chr(97 + i)}": "" for i in range(MAX_MESSAGE_VARIABLES + 1)
                }
            },
            "message_variables",
        ),
        ({"message_text": "【安信人寿】您好"}, "message_text"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_outreach_fields_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AuditEvent.model_validate({**PLAIN, **OUTREACH, **change})
    assert {str(error["loc"][0]) for error in refused.value.errors()} == {field}


@pytest.mark.parametrize(
    "value",
    ["致电15234719120", "身份证110101199003077512", "卡号6222 0212 3456 7890 128"],
)
def test_a_variable_holding_an_unmasked_number_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AuditEvent.model_validate({**PLAIN, **OUTREACH, "message_variables": {"hotline": value}})
    message = str(refused.value.errors()[0]["msg"])
    assert "unmasked number" in message and value not in str(refused.value)
