"""The agent desktop (`/desk/`) in a real headless Chromium, against the real suite.

Journey 1: an inbound call from L1 through knowledge-question step-up to the
masked profile to consent capture. While it runs, the page's DOM (markup, text
and every input's value) is scanned for the demo customer's plain mobile and ID
numbers and for anything shaped like an unmasked mobile, ID or card number.
Also: the static mounts open no path-traversal hole and the route table still
refuses everything else. Screenshots of each step go under the test's
`tmp_path`, and the journey's are copied to /tmp/anxin-screens/ for review.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from anxin_gateway.web import WEB_DIR
from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# Where the lead looks at the journeys' screenshots (a copy; the originals are in tmp_path).
SCREENS = Path(os.environ.get("ANXIN_SCREENS_DIR", "/tmp/anxin-screens"))  # noqa: S108
DEMO = {c.customer_id: c for c in generate_customers()[:2]}
CUSTOMER = DEMO["C000002"]  # the life insurer's caller (dev simulator caller 0)
PC_CUSTOMER = DEMO["C000001"]  # the P&C insurer's caller (dev simulator caller 1), with a card
# Shapes of plain numbers, bounded so that hashes and ids do not count as numbers.
PLAIN_SHAPES = {
    "mobile": re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])"),
    "id": re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9X](?![0-9A-Za-z])"),
    "card": re.compile(r"(?<![0-9A-Za-z])[0-9]{16,19}(?![0-9A-Za-z])"),
}
SCAN_SCRIPT = """() => [document.documentElement.outerHTML, document.body.innerText,
  ...Array.from(document.querySelectorAll('input, textarea, select'), (n) => n.value)
].join('\\n')"""


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (they need no `eval`, which the page's CSP forbids)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install -y chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Journey:
    """One page, its screenshots, and the DOM scan after every step."""

    def __init__(self, page: Any, out: Path, name: str, customer: DemoCustomer = CUSTOMER) -> None:
        self.page = page
        self.customer = customer
        self.out = out
        self.name = name
        self.shots: list[Path] = []
        self.scans = 0
        self.page_errors: list[str] = []
        self.external: list[str] = []

    def scan(self) -> None:
        text = self.page.evaluate(SCAN_SCRIPT)
        secrets = (self.customer.mobile, self.customer.id_number, self.customer.bank_account)
        for secret in filter(None, secrets):
            assert secret not in text, "a plain value of the demo customer is on the page"
        for kind, shape in PLAIN_SHAPES.items():
            found = shape.search(text)
            assert found is None, f"an unmasked {kind} number is on the page"
        self.scans += 1

    def step(self, label: str) -> None:
        self.scan()
        path = self.out / f"{self.name}-{len(self.shots) + 1:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)

    def close(self) -> None:
        """Copy the screenshots for review and close the browser context."""
        SCREENS.mkdir(parents=True, exist_ok=True)
        for shot in self.shots:
            shutil.copy(shot, SCREENS / shot.name)
        self.page.context.close()


def open_desk(
    suite: RunningSuite, browser: Any, tmp_path: Path, name: str, customer: DemoCustomer = CUSTOMER
) -> Journey:
    """A fresh page on /desk/ that records page errors and any request off the gateway."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    journey = Journey(page, tmp_path, f"{name}-{suite.backend}", customer)
    page.on("pageerror", lambda error: journey.page_errors.append(str(error)))
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(suite.gateway) else journey.external.append(request.url)
        ),
    )
    page.goto(f"{suite.gateway}/desk/")
    page.wait_for_selector("#dev-signin:not([hidden])")
    return journey


def sign_in_and_take_the_call(journey: Journey, subject: str) -> None:
    """Dev sign-in, then the telephony simulator: the customer calls from her registered mobile."""
    page, customer = journey.page, journey.customer
    page.select_option("#subject", subject)
    page.click("#signin-dev")
    page.wait_for_selector("#incoming:not([hidden])")
    assert subject in (page.text_content("#who") or "")
    page.select_option("#sim-caller", "0" if customer is CUSTOMER else "1")
    page.click("#simulate")
    page.wait_for_selector("#session:not([hidden])")
    if page.text_content("#s-candidates") != "1":
        # The number is shared (a household): the caller names their customer id.
        assert page.text_content("#s-level") == "L0"
        page.fill("#link-id", customer.customer_id)
        page.click("#link-go")
        expect(page.locator("#s-customer")).to_have_text(customer.customer_id)
    assert page.text_content("#s-level") == "L1"
    assert page.text_content("#s-customer") == customer.customer_id
    assert page.text_content("#s-ani") == customer.mobile[:3] + "****" + customer.mobile[-4:]


def answer_knowledge_questions(journey: Journey) -> None:
    """Type the caller's answers; the stored answers never reach the page."""
    page, customer = journey.page, journey.customer
    page.click("#load-questions")
    page.wait_for_selector("input[data-question='id_last4']")
    assert customer.id_number[-4:] not in (page.text_content("#questions") or "")
    answers = {
        "id_last4": customer.id_number[-4:],
        "birth_date": customer.birth_date.strftime("%Y年%m月%d日"),
    }
    for question_id, answer in answers.items():
        box = page.locator(f"input[data-question='{question_id}']")
        box.fill(answer)
        box.locator("xpath=following-sibling::button").click()
        page.wait_for_selector(f"input[data-question='{question_id}']:disabled")
    expect(page.locator("#s-level")).to_have_text("L2")


def consent_status(suite: RunningSuite) -> str | None:
    """What holds now for the cross-sell phone scope of the demo customer (as legal sees it)."""
    response = suite.get(
        f"/api/v1/consent/customers/{CUSTOMER.customer_id}/consents", subject="legal.qian"
    )
    assert response.status_code == 200, response.text
    for item in response.json()["items"]:
        if (item["purpose"], item["category"], item["recipient"]) == (
            "cross_sell",
            "pi.contact.phone",
            "bank",
        ):
            return str(item["status"])
    return None


def test_inbound_call_from_l1_through_step_up_to_masked_profile_and_consent(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    journey = open_desk(running_suite, browser, tmp_path, "desk-inbound")
    page = journey.page
    try:
        assert page.text_content("h1") == "安信坐席工作台"
        journey.step("signin")

        sign_in_and_take_the_call(journey, "agent.li")
        assert page.locator("#s-reasons li").count() >= 1
        journey.step("call-at-l1")

        # At L1 the household read is refused for assurance: the page says so in plain
        # language, with the problem's title and request id, and prompts for step-up.
        page.click("#load-household")
        page.wait_for_selector("#error:not([hidden])")
        error_text = page.text_content("#error") or ""
        assert "requires assurance level L2" in error_text
        assert re.search(r"请求编号：\S+", error_text)
        assert page.is_visible("#customer-stepup")
        journey.step("step-up-needed")

        answer_knowledge_questions(journey)
        assert page.is_hidden("#customer-stepup")
        journey.step("verified-l2")

        # The profile, masked exactly as the API returns it.
        page.click("#load-customer")
        page.wait_for_selector("#profile dd[data-field='mobile']")
        mobile = page.text_content("#profile dd[data-field='mobile']") or ""
        id_number = page.text_content("#profile dd[data-field='id_number']") or ""
        assert mobile.startswith(CUSTOMER.mobile[:3] + "****" + CUSTOMER.mobile[-4:])
        assert id_number.startswith(CUSTOMER.id_number[:3] + "*" * 11 + CUSTOMER.id_number[-4:])
        assert "掩码" in mobile
        page.click("#load-household")
        page.wait_for_selector("#household li")
        assert page.is_hidden("#error")
        journey.step("masked-profile")

        # Consent capture: pick the cross-sell notice, read it, record a verbal consent.
        page.click("#load-notices")
        page.wait_for_selector("#notice option", state="attached")
        option = page.locator("#notice option", has_text="life-to-bank-cross-sell")
        page.select_option("#notice", option.first.get_attribute("value"))
        assert "安信银行" in (page.text_content("#notice-text") or "")
        page.select_option("#category", "pi.contact.phone")
        page.select_option("#recipient", "bank")
        page.click("#mark-recording")
        page.click("#record-consent")
        page.wait_for_selector("#consent-status.ok")
        assert "call-recording:" in (page.text_content("#consent-status") or "")
        assert consent_status(running_suite) == "granted"
        journey.step("consent-recorded")

        # ...and the customer's withdrawal the same way (so later tests find no live consent).
        page.click("#mark-recording")
        page.click("#withdraw-consent")
        expect(page.locator("#consent-status")).to_contain_text("已记录撤回")
        assert consent_status(running_suite) == "withdrawn"

        # English is available.
        page.click("#lang")
        assert page.text_content("h1") == "Anxin agent desktop"
        journey.step("english")
    finally:
        journey.close()

    assert not journey.page_errors, journey.page_errors
    assert not journey.external, f"the page fetched from elsewhere: {journey.external}"
    assert journey.scans == 7


def test_outsourced_agent_never_sees_a_plain_number(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    journey = open_desk(running_suite, browser, tmp_path, "desk-outsourced", PC_CUSTOMER)
    page = journey.page
    try:
        sign_in_and_take_the_call(journey, "contractor.sun")
        answer_knowledge_questions(journey)
        page.click("#load-customer")
        page.wait_for_selector("#profile dd[data-field='mobile']")
        for field in ("mobile", "id_number", "bank_account"):
            shown = page.text_content(f"#profile dd[data-field='{field}']") or ""
            assert "明文" not in shown, field
        journey.step("verified-but-masked")

        # Unmasking is banned for contractors: the API refuses, the page shows why.
        page.locator("input[name=unmask]").first.check()
        page.fill("#unmask-reason", "客户要求核对预留手机号码")
        page.click("#unmask-go")
        page.wait_for_selector("#error:not([hidden])")
        assert "Forbidden" in (page.text_content("#error") or "")
        assert page.is_hidden("#unmasked")
        journey.step("unmask-refused")
    finally:
        journey.close()
    assert not journey.page_errors, journey.page_errors
    assert journey.scans == 2


def code_from_sms_sink(suite: RunningSuite, reference: str) -> str:
    """The one-time code of one message in the dev SMS sink (what the customer's phone shows)."""
    sink = suite.suite.var_dir / "sms-sink.jsonl"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sink.exists():
            for line in sink.read_text(encoding="utf-8").splitlines():
                message = json.loads(line)
                if message["reference"] == reference:
                    after = message["text"].split("验证码为", 1)[1]
                    return after[: len(after) - len(after.lstrip("0123456789"))]
        time.sleep(0.2)
    raise AssertionError("the one-time code never reached the dev SMS sink")


def test_supervisor_unmasks_with_a_reason_for_a_limited_time(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    journey = open_desk(running_suite, browser, tmp_path, "desk-unmask")
    page = journey.page
    try:
        sign_in_and_take_the_call(journey, "supervisor.liu")
        # Step up with a one-time code this time: the dev SMS sink stands in for the phone.
        assert page.is_visible("#code-hint")
        with page.expect_response(lambda r: r.url.endswith("/codes")) as sent:
            page.click("#send-code")
        code = code_from_sms_sink(running_suite, sent.value.json()["code_id"])
        page.fill("#code", code)
        page.click("#verify-code")
        expect(page.locator("#s-level")).to_have_text("L2")
        page.click("#load-customer")
        page.wait_for_selector("#unmask:not([hidden])")
        journey.step("masked")

        # Too short a reason is refused on the page, before any request.
        page.check("input[name=unmask][value=mobile]")
        page.fill("#unmask-reason", "核对")
        page.click("#unmask-go")
        page.wait_for_selector("#error:not([hidden])")
        assert page.is_hidden("#unmasked")

        page.fill("#unmask-reason", "客户要求核对预留手机号码")
        page.click("#unmask-go")
        page.wait_for_selector("#unmasked:not([hidden])")
        assert page.text_content("dd[data-plain='mobile']") == CUSTOMER.mobile
        assert re.search(r"[0-9]+ 秒后自动隐藏", page.text_content("#countdown") or "")

        # Hidden again: the plain value leaves the page.
        page.click("#unmask-hide")
        assert page.is_hidden("#unmasked")
        journey.step("hidden-again")
    finally:
        journey.close()
    assert not journey.page_errors, journey.page_errors
    assert not journey.external, journey.external
    assert journey.scans == 2


def raw_get(suite: RunningSuite, target: str) -> httpx.Response:
    """Send a request target byte for byte (HTTP clients normalize dot segments)."""
    port = suite.suite.ports["gateway"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return httpx.Response(int(lines[0].split()[1]), headers=headers, content=body)


@pytest.mark.parametrize(
    "target",
    [
        "/desk/../../pyproject.toml",
        "/desk/../web.py",
        "/desk/%2e%2e/web.py",
        "/desk/..%2fweb.py",
        "/desk/%2e%2e%2f%2e%2e%2fmain.py",
        "/web/..\\web.py",
        "/desk//etc/passwd",
        "/console/./index.html",
        "/desk/index.html;x",
    ],
)
def test_static_mounts_refuse_traversal(running_suite: RunningSuite, target: str) -> None:
    response = raw_get(running_suite, target)
    assert response.status_code == 400, (target, response.status_code)
    assert b"Anxin" not in response.content and b"import" not in response.content


def test_static_pages_are_public_local_and_uncached(running_suite: RunningSuite) -> None:
    for path in ("/desk/", "/web/anxin.js", "/web/anxin.css", "/desk/desk.js"):
        response = raw_get(running_suite, path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
    # Nothing else is served: unknown files, near-miss prefixes and the package's code.
    for path in ("/desk/nothing.js", "/deskx", "/web.py", "/main.py", "/static/anxin.js", "/"):
        assert raw_get(running_suite, path).status_code == 404, path
    assert raw_get(running_suite, "/web/web.py").status_code == 404
    # API responses stay uncacheable.
    api = raw_get(running_suite, "/api/v1/customers")
    assert api.status_code == 401


# No web storage, cookies, logging or HTML injection in the pages' code.
FORBIDDEN_IN_ASSETS = (
    "localStorage",
    "sessionStorage",
    "document.cookie",
    "console.log",
    "console.debug",
    "console.info",
    "innerHTML",
)


def test_web_assets_use_no_external_origin_and_no_browser_storage() -> None:
    files = [p for p in WEB_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".html", ".js", ".css"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "://" not in text, path
        for forbidden in FORBIDDEN_IN_ASSETS:
            assert forbidden not in text, (path, forbidden)


def test_security_admin_finds_a_denial_in_the_console(
    running_suite: RunningSuite, browser: Any, tmp_path: Path
) -> None:
    denied = running_suite.get("/api/v1/customers/C000001", subject="agent.li")
    assert denied.status_code == 403
    decision_id = denied.json()["decision_id"]

    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    journey = Journey(page, tmp_path, f"console-{running_suite.backend}")
    page.on("pageerror", lambda error: journey.page_errors.append(str(error)))
    try:
        page.goto(f"{running_suite.gateway}/console/")
        page.wait_for_selector("#dev-signin:not([hidden])")
        page.select_option("#subject", "secadmin.wu")
        page.click("#signin-dev")
        page.wait_for_selector("#policy:not([hidden])")

        page.click("#policy-load")
        expect(page.locator("#policy-version")).not_to_have_text("—")
        live = running_suite.client.get(f"{running_suite.gateway}/readyz").json()
        assert page.text_content("#policy-version") == live["policy_version"]

        page.click("#chain-verify")
        page.wait_for_selector("#chain-result.ok")

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
        assert "拒绝" in (row.first.text_content() or "")
        assert "agent.li" in (row.first.text_content() or "")
        journey.step("denial-found")

        # Who accessed that customer: agent.li is among them, with the denial counted.
        page.fill("#f-customer", "C000001")
        page.click("#audit-who")
        who = page.locator("#audit-results tr", has_text="agent.li")
        expect(who.first).to_be_visible()

        # The alert queue loads (ordered by severity) without an error.
        page.click("#alerts-load")
        page.wait_for_selector("#alerts-list table")
        assert page.is_hidden("#error")
        journey.step("who-accessed-and-alerts")
    finally:
        journey.close()
    assert not journey.page_errors, journey.page_errors
