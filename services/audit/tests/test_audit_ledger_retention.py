"""The inspection ledger (findings whose evidence hashes verify) and retention by archive."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.checkpoints.signing import load_signing_key
from anxin_audit.events.export import verify_export
from anxin_audit.events.service import append, verify
from anxin_audit.ledger import service as ledger
from anxin_audit.ledger.schemas import FindingCreate, FindingUpdate, InspectionCreate
from anxin_audit.retention.service import archive_expired
from anxin_audit.settings import AuditSettings
from anxin_audit.state import AuditState
from anxin_shared.app import ServiceRuntime, build_runtime
from anxin_shared.audit_event import AuditEvent
from anxin_shared.errors import Conflict, Forbidden, ValidationFailed
from anxin_shared.principal import Principal

REPO = Path(__file__).resolve().parents[3]
MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"
POSTGRES_URL = os.environ.get("ANXIN_TEST_POSTGRES_URL")
AUDITOR = Principal("auditor.zheng", "user", "group", ("internal_auditor",))
SECADMIN = Principal("secadmin.wu", "user", "group", ("security_admin",))


def event(**overrides: object) -> AuditEvent:
    body: dict[str, object] = {
        "event_id": uuid.uuid4().hex,
        "occurred_at": datetime.now(UTC),
        "producer": "profile",
        "actor": "agent.li",
        "actor_kind": "user",
        "action": "read",
        "resource": "customer.profile",
        "customer_ref": "C000002",
        "allowed": True,
        "domain": "life",
    }
    body.update(overrides)
    return AuditEvent.model_validate(body)


def call(runtime: ServiceRuntime, audit: AuditState, function: Any, *args: Any) -> Any:
    """One request: its own session, like the router gives each call."""
    with runtime.database.session() as session:
        return function(runtime, audit, session, *args)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh audit database on each backend (PostgreSQL when CI provides one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("ANXIN_TEST_POSTGRES_URL is not set (CI sets it)")
    import psycopg

    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"anxin_audit_unit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> tuple[ServiceRuntime, AuditState]:
    settings = AuditSettings(
        var_dir=tmp_path,
        policies_dir=REPO / "policies",
        database_url=database_url,
        checkpoint_every_events=5,
        retention_days=0,
    )
    runtime = build_runtime(settings, MIGRATIONS)
    runtime.database.migrate()
    runtime.policy.load()
    assert settings.checkpoint_key_file is not None
    key = load_signing_key(settings.checkpoint_key_file, generate=True)
    return runtime, AuditState(settings, Checkpointer(key, 5))


def test_a_finding_links_to_events_whose_hashes_verify(
    service: tuple[ServiceRuntime, AuditState], tmp_path: Path
) -> None:
    runtime, audit = service
    evidence = [event() for _ in range(3)]
    append(runtime.database, [*evidence, event()], audit.checkpointer)
    inspection = call(
        runtime,
        audit,
        ledger.create_inspection,
        AUDITOR,
        InspectionCreate(
            title="客户信息查询抽查",
            scope="life agents' customer reads, November",
            subsidiary="life",
            inspection_date=date(2026, 11, 20),
        ),
    )
    finding = call(
        runtime,
        audit,
        ledger.add_finding,
        AUDITOR,
        inspection.inspection_id,
        FindingCreate(
            summary="reads without a verified call",
            severity="high",
            responsible_role="supervisor",
            responsible_subsidiary="life",
            deadline=date(2026, 11, 25),
            evidence_event_ids=[e.event_id for e in evidence],
        ),
    )
    assert finding.evidence_verified
    assert [item.event_id for item in finding.evidence] == [e.event_id for e in evidence]
    assert all(len(item.hash) == 64 for item in finding.evidence)

    # An attacker with database access switches the trigger off and edits evidence.
    with runtime.database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_record_no_update"))
        else:
            connection.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
        connection.execute(
            text(
                "UPDATE audit_record SET body = replace(body, 'agent.li', 'agent.xx') WHERE seq = 2"
            )
        )
    checked = call(runtime, audit, ledger.get_finding, AUDITOR, finding.finding_id)
    assert not checked.evidence_verified
    assert [item.status for item in checked.evidence] == ["verified", "mismatch", "verified"]
    shown = call(runtime, audit, ledger.get_inspection, AUDITOR, inspection.inspection_id)
    assert [f.finding_id for f in shown.findings] == [finding.finding_id]


def test_the_overdue_report_and_who_may_write_the_ledger(
    service: tuple[ServiceRuntime, AuditState],
) -> None:
    runtime, audit = service
    recorded = event()
    append(runtime.database, [recorded], audit.checkpointer)
    today = date(2026, 12, 1)
    inspection = call(
        runtime,
        audit,
        ledger.create_inspection,
        AUDITOR,
        InspectionCreate(
            title="=HYPERLINK(evil)",
            scope="bank unmasking",
            subsidiary="bank",
            inspection_date=date(2026, 11, 1),
        ),
    )

    def finding(deadline: date, event_id: str = recorded.event_id) -> str:
        created = call(
            runtime,
            audit,
            ledger.add_finding,
            AUDITOR,
            inspection.inspection_id,
            FindingCreate(
                summary="unmask reasons missing",
                severity="medium",
                responsible_role="supervisor",
                responsible_subsidiary="bank",
                deadline=deadline,
                evidence_event_ids=[event_id],
            ),
        )
        return str(created.finding_id)

    late, on_time, closed = finding(date(2026, 11, 21)), finding(today), finding(date(2026, 11, 2))
    call(runtime, audit, ledger.update_finding, AUDITOR, closed, FindingUpdate(status="closed"))
    report = call(runtime, audit, ledger.overdue_report, AUDITOR, today)
    assert [(item.finding_id, item.days_overdue) for item in report.items] == [(late, 10)]
    assert on_time not in {item.finding_id for item in report.items}
    csv_text = ledger.report_csv(report)
    assert csv_text.startswith("\ufefffinding_id,inspection_id,inspection_title")
    assert "'=HYPERLINK(evil)" in csv_text and late in csv_text

    with pytest.raises(ValidationFailed):
        finding(today, "no-such-event-id")
    with pytest.raises(Forbidden):
        call(
            runtime,
            audit,
            ledger.create_inspection,
            SECADMIN,
            InspectionCreate(title="t", scope="s", subsidiary="bank", inspection_date=today),
        )
    with pytest.raises(Forbidden):
        call(runtime, audit, ledger.get_finding, AUDITOR, "missing")


def test_retention_archives_only_with_a_signed_checkpoint(
    service: tuple[ServiceRuntime, AuditState],
) -> None:
    runtime, audit = service
    checkpointer = audit.signer()
    append(runtime.database, [event() for _ in range(12)], checkpointer)
    archive = archive_expired(runtime.database, audit.settings, checkpointer)
    assert (archive.from_seq, archive.through_seq, archive.records) == (1, 12, 12)
    assert audit.settings.archive_dir is not None
    archive_file = audit.settings.archive_dir / archive.location
    assert verify_export(archive_file, checkpointer.public_key).ok

    append(runtime.database, [event() for _ in range(7)], checkpointer)
    with runtime.database.session() as session:
        report = verify(session, checkpointer, audit.settings.max_unanchored)
        assert report.ok and report.start_seq == 13 and report.head_seq == 19
        assert report.archived_through_seq == 12
        remaining = session.execute(text("SELECT MIN(seq), COUNT(*) FROM audit_record")).one()
        assert tuple(remaining) == (13, 7)
    # Only archived records may be deleted; the rest stays append-only.
    with runtime.database.session() as session, pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM audit_record WHERE seq = 13"))
    with runtime.database.session() as session, pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM audit_archive"))

    second = archive_expired(runtime.database, audit.settings, checkpointer)
    assert (second.from_seq, second.through_seq) == (13, 19)
    second_file = audit.settings.archive_dir / second.location
    assert verify_export(second_file, checkpointer.public_key).ok
    with pytest.raises(Conflict):
        archive_expired(runtime.database, audit.settings, checkpointer)


def test_records_inside_the_retention_period_stay(
    service: tuple[ServiceRuntime, AuditState],
) -> None:
    runtime, audit = service
    audit.settings.retention_days = 30
    append(
        runtime.database,
        [event(occurred_at=datetime.now(UTC) - timedelta(days=40))],
        audit.checkpointer,
    )
    # Retention counts from when the trail recorded an event, which is now.
    with pytest.raises(Conflict):
        archive_expired(runtime.database, audit.settings, audit.signer())
