"""Screening finds the seeded bad records, resumes, enforces deadlines with a moved clock."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from anxin_profile.clock import Clock
from anxin_profile.customers.models import Customer
from anxin_profile.customers.repository import holdings_for
from anxin_profile.seed import bad_records
from services.profile.tests.profile_testkit import as_user, profile_app

EXPECTED = {customer.customer_id: kinds for customer, kinds in bad_records()}
AGENTS = {customer.customer_id: customer.servicing_agent for customer, _ in bad_records()}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    with profile_app(tmp_path_factory.mktemp("profile-quality"), clock=Clock()) as client:
        yield client


def steward(client: TestClient) -> dict[str, str]:
    return as_user(client, subject="steward.gu", subsidiary="group")


def test_screening_pauses_resumes_and_finds_every_seeded_bad_record(api: TestClient) -> None:
    headers = steward(api)
    started = api.post(
        "/api/v1/quality/screenings", json={"batch_size": 50, "max_batches": 2}, headers=headers
    )
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["status"] == "paused" and run["processed"] == 100 and run["total"] >= 246
    assert 0 < run["percent"] < 100
    progress = api.get(f"/api/v1/quality/screenings/{run['run_id']}", headers=headers).json()
    assert progress["cursor"] == run["cursor"]
    done = api.post(
        f"/api/v1/quality/screenings/{run['run_id']}/resume",
        json={"batch_size": 50},
        headers=headers,
    ).json()
    assert done["status"] == "completed" and done["processed"] == done["total"]
    assert done["percent"] == 100.0
    issues = api.get("/api/v1/quality/issues?limit=500", headers=headers).json()["items"]
    found: dict[str, set[str]] = {}
    for issue in issues:
        found.setdefault(issue["customer_id"], set()).add(issue["kind"])
        assert issue["status"] == "open" and issue["deadline"] > issue["opened_at"]
        assert issue["subsidiary"] and issue["branch"] and issue["agent"]
    for customer_id, kinds in EXPECTED.items():
        assert set(kinds) <= found.get(customer_id, set()), customer_id
    # Only the bad records, and the valid customer whose number Q000005 shares, are flagged.
    flagged_valid = {c for c in found if c.startswith("C")}
    assert len(flagged_valid) == 1 and found[flagged_valid.pop()] == {"shared_number"}
    # A second run opens nothing new.
    again = api.post("/api/v1/quality/screenings", json={}, headers=headers).json()
    assert again["issues_opened"] == 0


def test_past_deadline_suspends_the_record_and_holds_commission(api: TestClient) -> None:
    headers = steward(api)
    if not api.get("/api/v1/quality/issues", headers=headers).json()["items"]:
        api.post("/api/v1/quality/screenings", json={}, headers=headers)
    early = api.post("/api/v1/quality/enforcement", json={}, headers=headers).json()
    assert early["overdue_issues"] == []
    api.clock.advance(timedelta(days=8))  # type: ignore[attr-defined]
    first = api.post("/api/v1/quality/enforcement", json={}, headers=headers).json()
    # ID problems have 7 days; the others 14.
    assert set(first["suspended_customers"]) == {"Q000001", "Q000002"}
    assert {h["agent"] for h in first["commission_holds"]} == {AGENTS["Q000001"], AGENTS["Q000002"]}
    with Session(api.runtime.database.engine) as session:  # type: ignore[attr-defined]
        record = session.get(Customer, "Q000001")
        assert record is not None and record.record_status == "suspended"
        assert [h.status for h in holdings_for(session, "Q000001")] == ["suspended"]
    api.clock.advance(timedelta(days=7))  # type: ignore[attr-defined]
    second = api.post("/api/v1/quality/enforcement", json={}, headers=headers).json()
    assert {"Q000003", "Q000004", "Q000005", "Q000006"} <= set(second["suspended_customers"])
    holds = api.get("/api/v1/quality/commission-holds", headers=headers).json()
    assert {h["customer_id"] for h in holds} >= set(EXPECTED)
    report = api.get("/api/v1/quality/reports?days=20", headers=headers).json()
    totals = {name: (s["open"], s["overdue"]) for name, s in report["subsidiaries"].items()}
    assert sum(o for _, o in totals.values()) == len(first["overdue_issues"]) + len(
        second["overdue_issues"]
    )
    assert all(len(s["trend"]) == 20 for s in report["subsidiaries"].values())
    assert (
        report["subsidiaries"]["life"]["trend"][-1]["overdue"]
        == report["subsidiaries"]["life"]["overdue"]
    )
    text = api.get("/api/v1/quality/reports?format=csv&days=3", headers=headers)
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.text)))
    assert rows[0] == ["subsidiary", "day", "opened", "fixed", "open", "overdue"]
    assert ["life", str(report["subsidiaries"]["life"]["total"])] == rows[-3][:2]


def test_a_fixed_record_closes_its_issue(api: TestClient) -> None:
    headers = steward(api)
    with api.runtime.database.session() as session:  # type: ignore[attr-defined]
        record = session.get(Customer, "Q000006")
        assert record is not None
        record.bank_account = "6222020000000000006"[:-1] + "0"
        from anxin_profile.demo_data import luhn_check_digit

        record.bank_account = record.bank_account[:-1] + luhn_check_digit(record.bank_account[:-1])
        session.add(record)
    api.post("/api/v1/quality/screenings", json={"subsidiary": "bank"}, headers=headers)
    fixed = api.get("/api/v1/quality/issues?status=fixed", headers=headers).json()["items"]
    assert [(i["customer_id"], i["kind"]) for i in fixed] == [("Q000006", "invalid_bank_account")]


def test_only_governing_roles_screen_and_read_reports(api: TestClient) -> None:
    agent = as_user(api, subject="agent.li", subsidiary="life")
    assert api.post("/api/v1/quality/screenings", json={}, headers=agent).status_code == 403
    assert api.get("/api/v1/quality/reports", headers=agent).status_code == 403
    bank_steward = as_user(api, subject="steward.feng", subsidiary="bank")
    own = api.get("/api/v1/quality/reports", headers=bank_steward).json()
    assert set(own["subsidiaries"]) == {"bank"}
    assert (
        api.get("/api/v1/quality/issues?subsidiary=life", headers=bank_steward).status_code == 403
    )
