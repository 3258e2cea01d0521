"""Outreach events on the chain: typed fields are stored and validated on ingest, and an event
that does not use them is stored and hashed byte for byte as before they existed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from anxin_audit.events.chain import GENESIS_HASH, record_hash, verify_records
from anxin_audit.events.repository import chain_rows
from anxin_audit.events.schemas import EventBatch
from anxin_audit.events.service import append
from anxin_shared.audit_event import AuditEvent, outreach_message_event
from anxin_shared.db import Database
from anxin_shared.principal import Principal

MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"
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
# The hash of PLAIN stored at seq 1, as the audit service wrote it before the outreach
# fields were added (commit 9745707); shared/tests/test_audit_event.py holds its body.
PLAIN_HASH = "dd3cfc7acce0030292f94123599c0645c48135455d4b9dfa59b42bcaa42bad12"


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    db.migrate()
    return db


def outreach(**changes: object) -> AuditEvent:
    fields: dict[str, object] = {
        "message_id": f"msg-{uuid.uuid4().hex[:20]}",
        "purpose": "security_education",
        "channel": "sms",
        "template": "tpl-edu-sms-zh",
        "variables": {"customer_name": "陈*", "hotline": "95500"},
        "status": "queued",
        "reason": None,
        "customer_ref": "C000002",
        "campaign_id": "cmp-0123456789abcdef",
        "allowed": True,
    }
    fields.update(changes)
    return AuditEvent.model_validate(outreach_message_event("profile", SYSTEM, **fields))  # type: ignore[arg-type]


def test_an_event_without_outreach_fields_is_stored_and_hashed_as_before(
    database: Database,
) -> None:
    append(database, [AuditEvent.model_validate(PLAIN)])
    with database.session() as session:
        [(seq, prev_hash, digest, body)] = chain_rows(session)
    assert (seq, prev_hash) == (1, GENESIS_HASH)
    assert digest == PLAIN_HASH == record_hash(1, GENESIS_HASH, body)
    assert "message_" not in body and "delivery_" not in body and "campaign_id" not in body


def test_outreach_fields_are_stored_and_the_existing_trail_still_verifies(
    database: Database,
) -> None:
    append(database, [AuditEvent.model_validate(PLAIN)])  # the trail as it was
    sent, held = outreach(), outreach(status="suppressed", reason="opted_out", allowed=False)
    append(database, [sent, held])
    later = AuditEvent.model_validate({**PLAIN, "event_id": uuid.uuid4().hex})
    append(database, [later])
    with database.session() as session:
        rows = chain_rows(session)
    assert rows[0][2] == PLAIN_HASH
    report = verify_records(rows)
    assert report.ok and report.records == 4
    stored = [json.loads(body) for _, _, _, body in rows]
    assert stored[1]["message_id"] == sent.message_id and stored[1]["delivery_status"] == "queued"
    assert stored[1]["message_variables"] == {"customer_name": "陈*", "hotline": "95500"}
    assert (stored[2]["delivery_status"], stored[2]["delivery_reason"]) == (
        "suppressed",
        "opted_out",
    )
    assert stored[1]["reasons"] == [] and "fraud_signal_id" not in stored[1]
    assert set(stored[3]) == set(stored[0])  # a later plain event: no new keys


def test_ingest_refuses_a_batch_with_a_bad_outreach_field() -> None:
    good = outreach().as_json()
    bad = {**outreach().as_json(), "message_variables": {"hotline": "15234719120"}}
    assert len(EventBatch.model_validate({"events": [good]}).events) == 1
    with pytest.raises(ValidationError) as refused:
        EventBatch.model_validate({"events": [good, bad]})
    [error] = refused.value.errors()
    assert error["loc"][:3] == ("events", 1, "message_variables")
    with pytest.raises(ValidationError):
        EventBatch.model_validate({"events": [{**good, "message_text": "您好"}]})
