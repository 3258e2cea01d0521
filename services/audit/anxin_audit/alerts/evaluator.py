"""Evaluates alert rules on newly stored records, off the ingest path.

A background task reads the chain after its cursor (kept in the database and
moved in the same transaction as the alerts it raised, so a restart neither
misses nor repeats a record), keeps a sliding window per (rule, actor) in
memory, and rebuilds those windows from the stored history after a restart.
Ingest never waits for it.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from anxin_audit.alerts import repository
from anxin_audit.alerts.models import AuditAlert
from anxin_audit.alerts.rules import AlertRules, RulesFile, WindowRule
from anxin_audit.events import repository as records
from anxin_audit.events.models import AuditRecord
from anxin_audit.settings import AuditSettings
from anxin_shared.db import Database

CURSOR = "alerts"
MAX_EVIDENCE = 500
BASELINE_REFRESH = timedelta(minutes=1)  # an actor's volume baseline is counted again after


@dataclass(frozen=True)
class Hit:
    """One event in a window: when, where in the chain, and what it counts as."""

    at: datetime
    seq: int
    event_id: str
    key: str  # what is counted distinctly (a customer, a request)


@dataclass
class Proposed:
    """An alert the rules want to raise (stored unless its dedupe key exists)."""

    dedupe_key: str
    rule: str
    severity: str
    actor: str | None
    subsidiary: str | None
    summary: str
    evidence: list[Hit]


class Window:
    """The hits of one (rule, actor) within a time span, and how many distinct keys they
    count, kept as hits come and go: a busy actor's window (thousands of hits) costs the
    same per hit as a quiet one's (recounting it on every hit made the evaluator
    quadratic: `benchmarks/gateway.py` found it holding most of a core)."""

    def __init__(self) -> None:
        self.hits: deque[Hit] = deque()
        self.keys: Counter[str] = Counter()

    def push(self, hit: Hit, window_seconds: float) -> None:
        """Add `hit` and drop the hits older than `window_seconds` before it."""
        self.hits.append(hit)
        self.keys[hit.key] += 1
        horizon = hit.at - timedelta(seconds=window_seconds)
        while self.hits and self.hits[0].at < horizon:
            old = self.hits.popleft()
            self.keys[old.key] -= 1
            if not self.keys[old.key]:
                del self.keys[old.key]

    @property
    def distinct(self) -> int:
        """How many distinct keys the window holds."""
        return len(self.keys)

    @property
    def first(self) -> Hit:
        """The oldest hit in the window."""
        return self.hits[0]

    def evidence(self) -> list[Hit]:
        """The newest hits, at most `MAX_EVIDENCE` of them."""
        return list(islice(reversed(self.hits), MAX_EVIDENCE))[::-1]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AlertEvaluator:
    """Runs the rules over the records after its cursor."""

    def __init__(self, database: Database, settings: AuditSettings, batch: int = 2000) -> None:
        self.database = database
        self.rules_file = RulesFile(settings.alerts_file)
        self.batch = batch
        self.windows: dict[tuple[str, str], Window] = {}
        self.quiet_until: dict[tuple[str, str], datetime] = {}
        self.baselines: dict[str, tuple[datetime, int]] = {}  # actor -> (counted at, events)
        self.ready = False

    # -- windows -------------------------------------------------------------------
    def _push(self, rule: str, actor: str, hit: Hit, window_seconds: float) -> Window:
        window = self.windows.setdefault((rule, actor), Window())
        window.push(hit, window_seconds)
        return window

    def _rebuild(self, rules: AlertRules, position: int) -> None:
        """After a restart: refill the windows from history, without raising anything."""
        span = rules.max_window_seconds
        with self.database.session() as session:
            latest = records.record_at(session, position) if position else None
            if latest is not None and span > 0:
                since = _aware(latest.occurred_at) - timedelta(seconds=span)
                for record in records.records_since(session, since, position):
                    self._evaluate(rules, record, json.loads(record.body), session, quiet=True)
            for alert in repository.created_since(
                session, datetime.now(UTC) - timedelta(seconds=span)
            ):
                if alert.actor is not None:
                    until = _aware(alert.created_at) + timedelta(seconds=span)
                    self.quiet_until[(alert.rule, alert.actor)] = until
        self.ready = True

    # -- the rules -------------------------------------------------------------------
    def _window_rule(
        self,
        name: str,
        rule: WindowRule,
        actor: str,
        hit: Hit,
        subsidiary: str | None,
        describe: str,
        quiet: bool,
    ) -> Proposed | None:
        window = self._push(name, actor, hit, rule.window_seconds)
        distinct = window.distinct
        if quiet or distinct < rule.threshold:
            return None
        if hit.at < self.quiet_until.get((name, actor), hit.at - timedelta(seconds=1)):
            return None
        self.quiet_until[(name, actor)] = hit.at + timedelta(seconds=rule.window_seconds)
        return Proposed(
            dedupe_key=f"{name}:{actor}:{window.first.seq}",
            rule=name,
            severity=rule.severity,
            actor=actor,
            subsidiary=subsidiary,
            summary=f"{actor}: {distinct} {describe} within "
            f"{rule.window_minutes:g} minutes (threshold {rule.threshold})",
            evidence=window.evidence(),
        )

    def _evaluate(
        self,
        rules: AlertRules,
        record: AuditRecord,
        event: dict[str, Any],
        session: Any,
        quiet: bool = False,
    ) -> list[Proposed]:
        proposed: list[Proposed] = []
        actor = record.actor
        at = _aware(record.occurred_at)
        subsidiary = record.domain or event.get("actor_subsidiary")
        request_key = record.request_id or record.event_id
        hit = Hit(at, record.seq, record.event_id, request_key)
        human = event.get("actor_kind") in ("user", "client")

        if event.get("kind") in rules.fraud_kinds and not quiet:
            proposed.append(
                Proposed(
                    f"fraud_watchlist:{record.event_id}",
                    "fraud_watchlist",
                    rules.fraud_severity,
                    actor,
                    subsidiary,
                    f"fraud watchlist hit reported by {record.producer}",
                    [hit],
                )
            )
        customer = record.customer_ref
        flag = rules.flagged_customers.get(customer) if customer else None
        if flag and human and record.resource.startswith("customer.") and not quiet:
            day = at.date().isoformat()
            proposed.append(
                Proposed(
                    f"flagged_customers:{actor}:{customer}:{day}",
                    "flagged_customers",
                    rules.flagged_severity,
                    actor,
                    subsidiary,
                    f"{actor} accessed a flagged customer ({flag})",
                    [hit],
                )
            )
        shift = rules.off_shift
        if shift and human and record.resource in shift.resources and not quiet:
            local = at.astimezone(shift.timezone)
            if shift.off_shift(local.time()):
                proposed.append(
                    Proposed(
                        f"off_shift:{actor}:{local.date().isoformat()}",
                        "off_shift",
                        shift.severity,
                        actor,
                        subsidiary,
                        f"{actor} accessed customer data at {local:%H:%M} local time, "
                        "outside shift hours",
                        [hit],
                    )
                )
        reads = rules.unverified_reads
        if (
            reads
            and human
            and customer
            and record.allowed  # a refused attempt is not a read
            and record.resource in reads.resources
            and (event.get("assurance_level") or "L0") == "L0"
        ):
            found = self._window_rule(
                "unverified_reads",
                reads,
                actor,
                Hit(at, record.seq, record.event_id, customer),
                subsidiary,
                "customers read without a verified call session",
                quiet,
            )
            if found:
                proposed.append(found)
        denials = rules.repeated_denials
        if denials and not record.allowed and actor != "anonymous":
            found = self._window_rule(
                "repeated_denials", denials, actor, hit, subsidiary, "denied requests", quiet
            )
            if found:
                proposed.append(found)
        unmask = rules.bulk_unmask
        if unmask and record.action in unmask.actions and human:
            found = self._window_rule(
                "bulk_unmask", unmask, actor, hit, subsidiary, "unmask actions", quiet
            )
            if found:
                proposed.append(found)
        volume = rules.volume_vs_baseline
        if volume and human:
            window = self._push("volume_vs_baseline", actor, hit, volume.window_seconds)
            count = window.distinct
            quiet_until = self.quiet_until.get(("volume_vs_baseline", actor))
            if (
                not quiet
                and count >= volume.min_events
                and (quiet_until is None or at >= quiet_until)
            ):
                start = at - timedelta(days=volume.baseline_days)
                end = at - timedelta(seconds=volume.window_seconds)
                history = self._history(session, actor, start, end)
                windows = max(1.0, (end - start).total_seconds() / volume.window_seconds)
                baseline = history / windows
                if count > volume.factor * baseline:
                    self.quiet_until[("volume_vs_baseline", actor)] = at + timedelta(
                        seconds=volume.window_seconds
                    )
                    proposed.append(
                        Proposed(
                            f"volume_vs_baseline:{actor}:{window.first.seq}",
                            "volume_vs_baseline",
                            volume.severity,
                            actor,
                            subsidiary,
                            f"{actor}: {count} requests in {volume.window_minutes:g} minutes, "
                            f"{volume.factor:g}x over their baseline of {baseline:.1f}",
                            window.evidence(),
                        )
                    )
        return proposed

    def _history(self, session: Any, actor: str, start: datetime, end: datetime) -> int:
        """The actor's events in the baseline span, counted at most once a minute (of event
        time): a busy actor under its baseline would otherwise cost a count per event."""
        counted = self.baselines.get(actor)
        if counted is None or not counted[0] <= end < counted[0] + BASELINE_REFRESH:
            counted = (end, records.count_actor_events(session, actor, start, end))
            self.baselines[actor] = counted
        return counted[1]

    # -- one pass ----------------------------------------------------------------------
    def run_once(self) -> int:
        """Evaluate the next batch of records; return how many alerts were raised."""
        rules = self.rules_file.current()
        with self.database.session() as session:
            position = records.cursor(session, CURSOR)
        if not self.ready:
            self._rebuild(rules, position)
        raised = 0
        with self.database.session() as session:
            batch = records.records_after(session, position, self.batch)
            proposed: list[Proposed] = []
            for record in batch:
                proposed.extend(self._evaluate(rules, record, json.loads(record.body), session))
            keys = [item.dedupe_key for item in proposed]
            existing = repository.existing_keys(session, keys)
            now = datetime.now(UTC)
            fresh: dict[str, AuditAlert] = {}
            for item in proposed:
                if item.dedupe_key in existing or item.dedupe_key in fresh:
                    continue
                fresh[item.dedupe_key] = AuditAlert(
                    alert_id=uuid.uuid4().hex,
                    dedupe_key=item.dedupe_key[:200],
                    rule=item.rule,
                    severity=item.severity,
                    actor=item.actor,
                    subsidiary=item.subsidiary,
                    summary=item.summary[:500],
                    evidence=json.dumps(
                        [{"seq": hit.seq, "event_id": hit.event_id} for hit in item.evidence]
                    ),
                    first_seq=item.evidence[0].seq,
                    last_seq=item.evidence[-1].seq,
                    created_at=now,
                    status="open",
                )
            repository.add_all(session, list(fresh.values()))
            raised = len(fresh)
            if batch:
                records.save_cursor(session, CURSOR, batch[-1].seq)
            self._escalate(session, rules, now)
        return raised

    @staticmethod
    def _escalate(session: Any, rules: AlertRules, now: datetime) -> None:
        """Unacknowledged serious alerts escalate one level after the configured time."""
        cutoff = now - timedelta(minutes=rules.escalate_after_minutes)
        for alert in repository.due_for_escalation(session, rules.escalate_severities, cutoff):
            alert.escalation_level = 1
            alert.status = "escalated"
            alert.escalated_by = "system"
            alert.escalated_at = now
            repository.save(session, alert)
