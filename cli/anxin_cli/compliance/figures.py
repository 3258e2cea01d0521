"""Figures from the audit trail for the report's period."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from anxin_cli.compliance.api import AUDITOR, SECURITY_ADMIN, GatewayApi

MAX_EVENTS = 200_000
STEWARD = "steward.gu"


def _iso(value: datetime) -> str:
    return value.isoformat()


def event_figures(records: list[dict[str, Any]], *, truncated: bool = False) -> dict[str, Any]:
    """Decisions, denials and unmasks (with and without a reason), by day and producer."""
    decisions = denials = 0
    by_day: Counter[str] = Counter()
    denied_by_day: Counter[str] = Counter()
    by_producer: Counter[str] = Counter()
    unmasks = unmasks_with_reason = unmask_denied = 0
    unmask_without_reason: list[dict[str, Any]] = []
    for record in records:
        event = record["event"]
        day = str(event.get("occurred_at", ""))[:10]
        if event.get("decision_id") is None and event.get("kind") != "decision":
            continue
        decisions += 1
        by_day[day] += 1
        by_producer[str(event.get("producer"))] += 1
        if not event.get("allowed"):
            denials += 1
            denied_by_day[day] += 1
        if event.get("action") == "unmask":
            if not event.get("allowed"):
                unmask_denied += 1
            # The owning service's event carries the reason; the gateway's only routes.
            elif event.get("producer") != "gateway":
                unmasks += 1
                if (event.get("unmask_reason") or "").strip():
                    unmasks_with_reason += 1
                else:
                    unmask_without_reason.append(
                        {
                            "seq": record["seq"],
                            "event_id": event["event_id"],
                            "hash": record["hash"],
                        }
                    )
    return {
        "events": len(records),
        "truncated": truncated,
        "decisions": decisions,
        "denials": denials,
        "by_day": {day: by_day[day] for day in sorted(by_day)},
        "denied_by_day": {day: denied_by_day[day] for day in sorted(by_day)},
        "by_producer": dict(sorted(by_producer.items())),
        "unmasks": {
            "allowed": unmasks,
            "with_reason": unmasks_with_reason,
            "without_reason": unmask_without_reason[:50],
            "denied": unmask_denied,
        },
    }


def alert_figures(alerts: list[dict[str, Any]], since: datetime, until: datetime) -> dict[str, Any]:
    """Alerts raised in the period, and how many were handled."""
    raised = [a for a in alerts if _in(a, since, until)]
    by_rule: Counter[str] = Counter(a["rule"] for a in raised)
    handled = [a for a in raised if a["status"] != "open"]
    return {
        "raised": len(raised),
        "handled": len(handled),
        "open": len(raised) - len(handled),
        "by_rule": dict(sorted(by_rule.items())),
        "by_severity": dict(sorted(Counter(a["severity"] for a in raised).items())),
    }


def _in(alert: dict[str, Any], since: datetime, until: datetime) -> bool:
    try:
        created = datetime.fromisoformat(alert["created_at"].replace("Z", "+00:00"))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=since.tzinfo)
    return since <= created <= until


def collect(api: GatewayApi, since: datetime, until: datetime, wanted: set[str]) -> dict[str, Any]:
    """Pull every figure the catalogue's controls name."""
    figures: dict[str, Any] = {"period": {"since": _iso(since), "until": _iso(until)}}
    if wanted & {"decisions", "denials", "unmasks"}:
        records: list[dict[str, Any]] = []
        after, truncated = 0, False
        while True:
            page = api.json(
                "GET",
                "/api/v1/audit/events",
                AUDITOR,
                params={
                    "occurred_from": _iso(since),
                    "occurred_to": _iso(until),
                    "after_seq": after,
                    "limit": 500,
                },
            )
            records.extend(page["items"])
            if page["next_after_seq"] is None:
                break
            if len(records) >= MAX_EVENTS:
                truncated = True
                break
            after = page["next_after_seq"]
        figures["trail"] = event_figures(records, truncated=truncated)
    if "alerts" in wanted:
        alerts: list[dict[str, Any]] = []
        offset = 0
        while offset <= 100_000:
            page = api.json(
                "GET",
                "/api/v1/audit/alerts",
                SECURITY_ADMIN,
                params={"limit": 200, "offset": offset},
            )
            alerts.extend(page["items"])
            if len(page["items"]) < 200:
                break
            offset += 200
        figures["alerts"] = alert_figures(alerts, since, until)
    if "findings" in wanted:
        overdue = api.json("GET", "/api/v1/audit/reports/overdue-findings", AUDITOR)
        figures["findings"] = {
            "overdue": len(overdue["items"]),
            "finding_ids": [item["finding_id"] for item in overdue["items"]][:100],
        }
    if "quality" in wanted:
        response = api.request("GET", "/api/v1/quality/reports", STEWARD, params={"days": 3})
        if response.status_code == 200:
            subsidiaries = response.json().get("subsidiaries") or {}
            figures["quality"] = {
                "overdue_issues": sum(int(s.get("overdue", 0)) for s in subsidiaries.values()),
                "by_subsidiary": {k: int(v.get("overdue", 0)) for k, v in subsidiaries.items()},
            }
    return figures
