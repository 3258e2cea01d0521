"""Anomaly alerts: each built-in rule fires on its seeded scenario, and only then."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from anxin_audit.alerts.evaluator import AlertEvaluator
from anxin_audit.alerts.models import AuditAlert
from anxin_audit.alerts.rules import RulesError, parse_rules
from anxin_audit.events.service import append
from anxin_audit.settings import AuditSettings
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database

REPO = Path(__file__).resolve().parents[3]
MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"
# 10:00 in Shanghai: inside shift hours.
DAYTIME = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def event(at: datetime, **overrides: object) -> AuditEvent:
    body: dict[str, object] = {
        "event_id": uuid.uuid4().hex,
        "occurred_at": at,
        "producer": "profile",
        "actor": "agent.li",
        "actor_kind": "user",
        "roles": ["agent"],
        "actor_subsidiary": "life",
        "action": "read",
        "resource": "customer.profile",
        "allowed": True,
        "domain": "life",
        "assurance_level": "L0",
        "request_id": uuid.uuid4().hex,
    }
    body.update(overrides)
    return AuditEvent.model_validate(body)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Database, AlertEvaluator, Path]:
    rules = tmp_path / "alerts.yaml"
    shutil.copy(REPO / "policies" / "alerts.yaml", rules)
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    database.migrate()
    settings = AuditSettings(var_dir=tmp_path, alerts_file=rules)
    return database, AlertEvaluator(database, settings), rules


def alerts(database: Database) -> list[AuditAlert]:
    with database.session() as session:
        return list(session.exec(select(AuditAlert)).all())


def by_rule(database: Database, rule: str) -> list[AuditAlert]:
    return [alert for alert in alerts(database) if alert.rule == rule]


def test_an_agent_reading_50_customers_in_5_minutes_without_a_verified_call_fires(
    setup: tuple[Database, AlertEvaluator, Path],
) -> None:
    database, evaluator, _ = setup
    reads = [event(DAYTIME + timedelta(seconds=5 * i), customer_ref=f"C{i:06d}") for i in range(50)]
    append(database, reads[:49])
    evaluator.run_once()
    assert by_rule(database, "unverified_reads") == []  # 49 customers: not yet
    append(database, reads[49:])
    evaluator.run_once()
    [alert] = by_rule(database, "unverified_reads")
    assert alert.severity == "high" and alert.actor == "agent.li" and alert.status == "open"
    evidence = {item["event_id"] for item in json.loads(alert.evidence)}
    assert evidence == {read.event_id for read in reads}
    # More reads in the same burst do not raise a second alert.
    append(database, [event(DAYTIME + timedelta(minutes=4, seconds=20), customer_ref="C999999")])
    evaluator.run_once()
    assert len(by_rule(database, "unverified_reads")) == 1


def test_verified_or_slow_reads_do_not_fire(setup: tuple[Database, AlertEvaluator, Path]) -> None:
    database, evaluator, _ = setup
    verified = [
        event(DAYTIME + timedelta(seconds=i), customer_ref=f"C{i:06d}", assurance_level="L2")
        for i in range(60)
    ]
    slow = [
        event(DAYTIME + timedelta(minutes=6 * i), customer_ref=f"C{i:06d}", actor="agent.zhang")
        for i in range(60)
    ]
    append(database, verified + slow)
    evaluator.run_once()
    assert by_rule(database, "unverified_reads") == []


def test_repeated_denials_bulk_unmask_flagged_and_watchlist(
    setup: tuple[Database, AlertEvaluator, Path],
) -> None:
    database, evaluator, _ = setup
    denials = [
        event(DAYTIME + timedelta(seconds=i), actor="agent.wang", allowed=False) for i in range(10)
    ]
    unmasks = [
        event(
            DAYTIME + timedelta(minutes=i),
            actor="supervisor.liu",
            action="unmask",
            unmask_reason="customer request",
            assurance_level="L2",
            customer_ref=f"U{i:06d}",
        )
        for i in range(20)
    ]
    flagged = event(DAYTIME, actor="agent.zhang", customer_ref="C000007", assurance_level="L2")
    watchlist = event(
        DAYTIME, producer="identity", kind="fraud.watchlist_hit", resource="call.session"
    )
    append(database, [*denials, *unmasks, flagged, watchlist])
    evaluator.run_once()
    assert {a.actor for a in by_rule(database, "repeated_denials")} == {"agent.wang"}
    assert {a.actor for a in by_rule(database, "bulk_unmask")} == {"supervisor.liu"}
    [vip] = by_rule(database, "flagged_customers")
    assert vip.actor == "agent.zhang" and "vip" in vip.summary
    [hit] = by_rule(database, "fraud_watchlist")
    assert hit.severity == "critical"
    assert json.loads(hit.evidence)[0]["event_id"] == watchlist.event_id


def test_off_shift_access_and_volume_over_baseline(
    setup: tuple[Database, AlertEvaluator, Path],
) -> None:
    database, evaluator, _ = setup
    night = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 01:30 in Shanghai
    # A quiet baseline the week before: 10 requests a day.
    history = [
        event(DAYTIME - timedelta(days=day, minutes=i), actor="agent.wang", assurance_level="L2")
        for day in range(1, 8)
        for i in range(10)
    ]
    burst = [
        event(DAYTIME + timedelta(seconds=10 * i), actor="agent.wang", assurance_level="L2")
        for i in range(200)
    ]
    append(database, [*history, *burst, event(night, actor="agent.li", assurance_level="L2")])
    evaluator.run_once()
    [volume] = by_rule(database, "volume_vs_baseline")
    assert volume.actor == "agent.wang"
    [night_alert] = by_rule(database, "off_shift")
    assert night_alert.actor == "agent.li" and "01:30" in night_alert.summary


def test_a_restart_neither_repeats_nor_misses(setup: tuple[Database, AlertEvaluator, Path]) -> None:
    database, evaluator, rules = setup
    reads = [event(DAYTIME + timedelta(seconds=i), customer_ref=f"C{i:06d}") for i in range(60)]
    append(database, reads[:30])
    evaluator.run_once()
    restarted = AlertEvaluator(database, AuditSettings(var_dir=rules.parent, alerts_file=rules))
    append(database, reads[30:])
    restarted.run_once()  # the window is rebuilt from the 30 reads before the restart
    assert len(by_rule(database, "unverified_reads")) == 1
    again = AlertEvaluator(database, AuditSettings(var_dir=rules.parent, alerts_file=rules))
    again.run_once()
    assert len(by_rule(database, "unverified_reads")) == 1


def test_rules_are_configurable_and_a_bad_file_keeps_the_last_good_set(
    setup: tuple[Database, AlertEvaluator, Path],
) -> None:
    database, evaluator, rules = setup
    rules.write_text(
        "rules:\n  unverified_reads: {severity: critical, window_minutes: 1, "
        "distinct_customers: 3}\n"
    )
    append(database, [event(DAYTIME, customer_ref=f"C{i:06d}") for i in range(3)])
    evaluator.run_once()
    [alert] = by_rule(database, "unverified_reads")
    assert alert.severity == "critical"
    rules.write_text("rules: [not, a, mapping]\n")
    assert evaluator.rules_file.current().unverified_reads is not None
    assert evaluator.rules_file.last_error
    with pytest.raises(RulesError):
        parse_rules({"rules": {"bulk_unmask": {"severity": "extreme", "threshold": 1}}})


def test_unacknowledged_serious_alerts_escalate(
    setup: tuple[Database, AlertEvaluator, Path],
) -> None:
    database, evaluator, rules = setup
    rules.write_text(
        "escalation: {after_minutes: 0, severities: [critical]}\n"
        "rules:\n  fraud_watchlist: {severity: critical}\n"
    )
    append(database, [event(DAYTIME, kind="fraud.watchlist_hit")])
    evaluator.run_once()
    evaluator.run_once()
    [alert] = alerts(database)
    assert alert.status == "escalated" and alert.escalation_level == 1
    assert alert.escalated_by == "system"
