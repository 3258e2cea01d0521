"""The security console (`/console/`) in a real headless Chromium, against the real suite.

Journey 4: a security admin explains a denied decision (the matching deny rule
on screen, with its `policy.csv` line), then finds that very denial in the
audit trail by its decision id. Also: a candidate policy's diff shows the
decision it flips and a broken candidate's problem; every replica's policy
version as the services themselves report it; lint, cases and coverage; the
internal-audit ledger with overdue findings highlighted; and the data-quality
charts, whose bars and lines carry exactly the figures of the API. Each test
saves screenshots under its `tmp_path` (copied to /tmp/anxin-screens/).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import test_web_desk as desk
from tests.e2e.test_web_desk import Journey, expect
from tests.support import RunningSuite, free_ports

pytestmark = pytest.mark.e2e
# The desk tests' fixtures (module scope): one Playwright driver, Debian's headless Chromium.
playwright, browser = desk.playwright, desk.browser

SERVICES = ("gateway", "identity", "consent", "profile", "audit")
NEW_RULE = "p, agent, *, policy.status, read, L0, allow"
DENY_RULE = "outsourced_agent, *, customer.profile, unmask, L0, deny"


def call(
    suite: RunningSuite, method: str, path: str, subject: str, **kwargs: Any
) -> httpx.Response:
    """One call through the gateway as `subject`."""
    return suite.call(method, path, subject, **kwargs)


def open_console(
    suite: RunningSuite, browser: Any, tmp_path: Path, name: str, subject: str
) -> Journey:
    """A fresh page on /console/, signed in as `subject`, recording page errors."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    journey = Journey(page, tmp_path, f"{name}-{suite.backend}")
    page.on("pageerror", lambda error: journey.page_errors.append(str(error)))
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(suite.gateway) else journey.external.append(request.url)
        ),
    )
    page.goto(f"{suite.gateway}/console/")
    page.wait_for_selector("#dev-signin:not([hidden])")
    page.select_option("#subject", subject)
    page.click("#signin-dev")
    page.wait_for_selector("#policy:not([hidden])")
    return journey


def finish(journey: Journey) -> None:
    journey.close()
    assert not journey.page_errors, journey.page_errors
    assert not journey.external, journey.external


def test_security_admin_explains_a_denial_then_finds_it_in_the_audit_trail(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    denied = call(running_suite, "POST", "/api/v1/customers/C000001/unmask", "contractor.sun")
    assert denied.status_code == 403
    decision_id = denied.json()["decision_id"]
    deny_line = 1 + next(
        number
        for number, line in enumerate(
            (running_suite.policies_dir / "policy.csv").read_text().splitlines()
        )
        if line.startswith(f"p, {DENY_RULE}")
    )

    journey = open_console(running_suite, browser, tmp_path, "console", "secadmin.wu")
    page = journey.page
    try:
        page.click("#policy-load")
        expect(page.locator("#policy-version")).not_to_have_text("—")
        live = running_suite.client.get(f"{running_suite.gateway}/readyz").json()
        assert page.text_content("#policy-version") == live["policy_version"]

        # Explain the contractor's refused unmask: the deny rule that decided it is on screen.
        page.fill("#x-subject", "contractor.sun")
        page.select_option("#x-subsidiary", "pc")
        page.fill("#x-resource", "customer.profile")
        page.fill("#x-action", "unmask")
        page.select_option("#x-level", "L0")
        page.click("#explain-run")
        expect(page.locator("#explain-verdict")).to_have_text("拒绝")
        deny_rows = page.locator("#explain-deny tbody tr.rule-deny")
        expect(deny_rows).to_have_count(1)
        assert deny_rows.first.text_content() == f"policy.csv:{deny_line}{DENY_RULE}"
        expect(page.locator("#explain-result")).to_contain_text(
            "contractor.sun → outsourced_agent（财险）"
        )
        expect(page.locator("#explain-result")).to_contain_text(denied.json()["detail"])
        journey.step("explained")

        page.click("#chain-verify")
        page.wait_for_selector("#chain-result.ok")
        # Verified range by range to the head (the bar full), next to the last signed checkpoint.
        assert page.eval_on_selector("#chain-bar", "bar => bar.value") == 1
        cited = page.locator("#chain-checkpoint dd").nth(1).text_content()
        listed = call(running_suite, "GET", "/api/v1/audit/checkpoints?limit=5", "secadmin.wu")
        assert int(cited or "0") in {cp["seq"] for cp in listed.json()["items"]}

        # The denial reaches the trail through the outbox relays: search until it shows.
        page.fill("#f-decision-id", decision_id)
        page.select_option("#f-decision", "denied")
        row = page.locator(f"#audit-results tr[data-decision-id='{decision_id}']")
        for _ in range(30):
            page.click("#audit-search")
            page.wait_for_selector("#audit-results p")
            if row.count() > 0:
                break
            page.wait_for_timeout(300)
        assert row.count() >= 1
        text = row.first.text_content() or ""
        assert "拒绝" in text and "contractor.sun" in text and DENY_RULE in text
        journey.step("denial-found")

        # The audited denial explained again from its row: the form is filled from the event.
        page.fill("#x-action", "read")
        page.click("#explain-run")
        expect(page.locator("#explain-verdict")).to_have_text("允许")
        row.first.locator("button.explain-row").click()
        expect(page.locator("#x-action")).to_have_value("unmask")
        expect(page.locator("#explain-verdict")).to_have_text("拒绝")
        expect(page.locator("#explain-deny tbody tr.rule-deny")).to_have_text(
            f"policy.csv:{deny_line}{DENY_RULE}"
        )

        # Who accessed that customer: the contractor is among them, with the denial counted.
        page.fill("#f-customer", "C000001")
        page.click("#audit-who")
        expect(page.locator("#audit-results tr", has_text="contractor.sun").first).to_be_visible()

        # The alert queue loads (ordered by severity) without an error.
        page.click("#alerts-load")
        page.wait_for_selector("#alerts-list table")
        assert page.is_hidden("#error")

        # English on request: the explanation is drawn again in the new language.
        page.click("#lang")
        expect(page.locator("#explain-verdict")).to_have_text("DENY")
        expect(page.locator("#policy-h")).to_have_text("Policy")
        journey.step("who-accessed-alerts-english")
    finally:
        finish(journey)


def test_console_diff_shows_a_flip_and_refuses_a_broken_candidate(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    live = (running_suite.policies_dir / "policy.csv").read_text(encoding="utf-8")
    journey = open_console(running_suite, browser, tmp_path, "console-diff", "secadmin.wu")
    page = journey.page
    try:
        page.fill("#diff-text", f"{live}\n{NEW_RULE}\n")
        page.click("#diff-run")
        flip = page.locator("#diff-flips tr[data-flip='agent.li|life|policy.status|read|L0']")
        expect(flip).to_have_count(1, timeout=60_000)  # the diff compares ~250,000 decisions
        assert "拒绝 → 允许" in (flip.text_content() or "")
        assert NEW_RULE[3:] in (flip.text_content() or "")
        expect(page.locator("#diff-counts")).to_contain_text("policy.status read")
        journey.step("flip")

        broken = tmp_path / "broken-policy.csv"
        broken.write_text(f"{live}\np, agent, *, nosuch.resource, read, L0, allow\n")
        page.set_input_files("#diff-file", str(broken))
        expect(page.locator("#diff-text")).to_have_value(broken.read_text())
        page.click("#diff-run")
        expect(page.locator("#diff-refused")).to_contain_text("nothing was applied", timeout=30_000)
        expect(page.locator("#diff-problems li").first).to_contain_text("nosuch.resource")
        expect(page.locator("#error")).to_be_visible()
        expect(page.locator("#error")).to_contain_text("输入内容不符合要求")
        assert page.locator("#diff-flips").count() == 0
        journey.step("refused")
    finally:
        finish(journey)
    after = running_suite.client.get(f"{running_suite.gateway}/readyz").json()
    assert (running_suite.policies_dir / "policy.csv").read_text(encoding="utf-8") == live
    assert "nosuch" not in live and after["policy_error"] is None


def test_console_shows_each_replica_version_and_the_policy_checks(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    journey = open_console(running_suite, browser, tmp_path, "console-status", "secadmin.wu")
    page = journey.page
    try:
        page.click("#status-load")
        rows = page.locator("#status-table tbody tr")
        expect(rows).to_have_count(len(SERVICES), timeout=15_000)
        for service in SERVICES:
            ready = running_suite.client.get(f"{running_suite.suite.url(service)}/readyz").json()
            row = page.locator(f"#status-table tr[data-service='{service}']")
            expect(row).to_have_count(1)
            assert row.get_attribute("data-instance") == ready["instance"]
            cells = row.locator("td")
            assert cells.nth(2).text_content() == ready["policy_version"]
            assert cells.nth(3).text_content() == "一致"
        expect(page.locator("#shadow-none")).to_be_visible()  # no candidate in this suite

        page.click("#checks-run")
        page.wait_for_selector("#checks-facts")
        api = call(running_suite, "GET", "/api/v1/policy/checks", "secadmin.wu").json()
        facts = page.locator("#checks-facts")
        expect(facts).to_contain_text(f"{api['lint']['errors']} 个错误")
        expect(facts).to_contain_text(f"{api['tests']['passed']} 个通过，0 个失败")
        meter = page.locator("#coverage-meter")
        assert float(meter.get_attribute("value") or "0") == api["tests"]["coverage"]
        journey.step("replicas-and-checks")
    finally:
        finish(journey)


def test_the_ledger_highlights_overdue_findings(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    auditor = "auditor.zheng"
    events = call(running_suite, "GET", "/api/v1/audit/events?limit=2", auditor).json()["items"]
    evidence = [item["event"]["event_id"] for item in events]
    inspection = call(
        running_suite,
        "POST",
        "/api/v1/audit/inspections",
        auditor,
        json={
            "title": "控制台台账检查",
            "scope": "console ledger view",
            "subsidiary": "pc",
            "inspection_date": str(date.today()),
        },
    ).json()["inspection_id"]
    ids = {}
    for name, days in (("late", -4), ("due", 20)):
        created = call(
            running_suite,
            "POST",
            f"/api/v1/audit/inspections/{inspection}/findings",
            auditor,
            json={
                "summary": f"finding {name}",
                "severity": "high" if name == "late" else "low",
                "responsible_role": "supervisor",
                "responsible_subsidiary": "pc",
                "deadline": str(date.today() + timedelta(days=days)),
                "evidence_event_ids": evidence,
            },
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["finding_id"]
    overdue = call(running_suite, "GET", "/api/v1/audit/reports/overdue-findings", auditor).json()
    days_late = {o["finding_id"]: o["days_overdue"] for o in overdue["items"]}[ids["late"]]

    journey = open_console(running_suite, browser, tmp_path, "console-ledger", auditor)
    page = journey.page
    try:
        page.click("#ledger-load")
        late = page.locator(f"#ledger-result tr.overdue[data-finding='{ids['late']}']")
        expect(late).to_have_count(1)
        expect(late.locator(".badge")).to_have_text(f"逾期 {days_late} 天")
        expect(page.locator(f"#overdue-table tr[data-finding='{ids['late']}']")).to_have_count(1)
        due = page.locator(f"#ledger-result tr[data-finding='{ids['due']}']")
        expect(due).to_have_count(1)
        assert "overdue" not in (due.get_attribute("class") or "")
        assert page.locator(f"#overdue-table tr[data-finding='{ids['due']}']").count() == 0
        journey.step("ledger")
    finally:
        finish(journey)


def screen_quality(suite: RunningSuite, steward: str) -> None:
    """Run a data-quality screening to completion, so the report has issues to chart."""
    run = call(suite, "POST", "/api/v1/quality/screenings", steward, json={}).json()
    for _ in range(50):
        if run["status"] == "completed":
            return
        run = call(
            suite, "POST", f"/api/v1/quality/screenings/{run['run_id']}/resume", steward, json={}
        ).json()
        time.sleep(0.1)
    raise AssertionError(f"screening did not complete: {run}")


def test_data_quality_charts_draw_the_report_figures(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    steward = "steward.gu"
    screen_quality(running_suite, steward)
    journey = open_console(running_suite, browser, tmp_path, "console-quality", steward)
    page = journey.page
    try:
        page.fill("#q-days", "7")
        page.click("#quality-load")
        page.wait_for_selector("#quality-bars-svg rect.bar", state="attached")
        report = call(running_suite, "GET", "/api/v1/quality/reports?days=7", steward).json()
        figures = report["subsidiaries"]
        assert sum(s["open"] + s["fixed"] + s["overdue"] for s in figures.values()) > 0

        bars = page.locator("#quality-bars-svg rect.bar")
        expect(bars).to_have_count(3 * len(figures))
        unit = None
        for i in range(bars.count()):
            bar = bars.nth(i)
            sub, series = bar.get_attribute("data-group"), bar.get_attribute("data-series")
            value = float(bar.get_attribute("data-value") or "nan")
            assert value == figures[sub][series], (sub, series)
            height = float(bar.get_attribute("height") or "nan")
            if value:  # bar heights are proportional to the figures
                unit = unit or height / value
                assert abs(height - unit * value) < 0.01
            else:
                assert height == 0

        for sub, figure in figures.items():
            for series in ("open", "overdue"):
                line = page.locator(f"#quality-trend-svg polyline[data-line='{sub}:{series}']")
                expected = [point[series] for point in figure["trend"]]
                assert line.get_attribute("data-values") == ",".join(map(str, expected))
                points = (line.get_attribute("points") or "").split()
                assert len(points) == len(expected) == 7
                marks = page.locator(f"#quality-trend-svg circle[data-line='{sub}:{series}']")
                assert [
                    float(marks.nth(i).get_attribute("data-value") or "nan")
                    for i in range(marks.count())
                ] == expected
            cells = page.locator(f"#quality-figures tr[data-subsidiary='{sub}'] td")
            assert cells.nth(1).text_content() == str(figure["open"])
            assert cells.nth(3).text_content() == str(figure["overdue"])
        journey.step("quality-charts")
    finally:
        finish(journey)


@pytest.fixture
def shadow_gateway(running_suite: RunningSuite, tmp_path: Path) -> Iterator[str]:
    """A second gateway replica with a shadow candidate, in front of the suite's backends.

    Same keys and policy folder as the suite; its own database, so its outbox does
    not share the first gateway's. The candidate lets agents read the replica status.
    """
    candidate = tmp_path / "candidate"
    shutil.copytree(running_suite.policies_dir, candidate)
    with (candidate / "policy.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"\n{NEW_RULE}\n")
    [port] = free_ports(1)
    env = running_suite.suite.environment("gateway")
    env.update(
        {
            "ANXIN_GATEWAY_PORT": str(port),
            "ANXIN_GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway-2.db'}",
            "ANXIN_POLICY_SHADOW_DIR": str(candidate),
        }
    )
    log = (tmp_path / "gateway-2.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "anxin_gateway.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            "anxin_gateway.server:GatewayHttpProtocol",
            "--no-access-log",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, (tmp_path / "gateway-2.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def test_console_shows_the_shadow_counters_of_a_gateway_replica(
    running_suite: RunningSuite, shadow_gateway: str, browser: Any, tmp_path: Path
) -> None:
    client = running_suite.client
    token = client.post(f"{shadow_gateway}/dev/token", json={"subject": "agent.li"}).json()
    agent = {"authorization": f"Bearer {token['access_token']}"}
    for _ in range(2):  # live denies, the candidate would allow: counted, never enforced
        assert (
            client.get(f"{shadow_gateway}/api/v1/policy/status", headers=agent).status_code == 403
        )

    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    journey = Journey(page, tmp_path, f"console-shadow-{running_suite.backend}")
    page.on("pageerror", lambda error: journey.page_errors.append(str(error)))
    try:
        page.goto(f"{shadow_gateway}/console/")
        page.wait_for_selector("#dev-signin:not([hidden])")
        page.select_option("#subject", "secadmin.wu")
        page.click("#signin-dev")
        page.click("#status-load")
        row = page.locator("#shadow-table tr[data-service='gateway']")
        expect(row).to_have_count(1)
        ready = client.get(f"{shadow_gateway}/readyz").json()
        assert row.get_attribute("data-instance") == ready["instance"]
        cells = row.locator("td")
        assert cells.nth(2).text_content() == ready["shadow"]["version"]
        assert int(cells.nth(3).text_content() or "0") >= 3
        expect(cells.nth(4)).to_have_text("2")
        assert ready["shadow"]["differences"] == 2
        # The replica's own row, and the suite's backends it probed, all on the live version.
        expect(page.locator("#status-table tbody tr")).to_have_count(len(SERVICES))
        versions = page.locator("#status-table tbody tr td:nth-child(3)").all_text_contents()
        assert set(versions) == {ready["policy_version"]}
        journey.step("shadow-counters")
    finally:
        journey.close()
    assert not journey.page_errors, journey.page_errors
