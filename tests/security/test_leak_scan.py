"""Issue 9, attack suite: the unmasked-number scan (SECURITY.md, Data leaks).

Runs after the other attack modules of this folder (file order) and scans every
response body they collected, plus its own listings as every seeded subject,
every log line of the suite and every audit record, for raw demo mobile, ID,
card and policy numbers. Granted unmask responses (plain to the caller by
policy) are never collected.
"""

from __future__ import annotations

import json

import pytest

from tests.security.support_attacks import (
    COLLECTED,
    collect,
    leaked_numbers,
    raw_numbers,
    report,
)
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e


def _get(suite: RunningSuite, path: str, token: str, keep: bool = True) -> str:
    response = suite.client.get(suite.gateway + path, headers={"authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
    if keep:
        collect(suite, response)
    return response.text


def test_no_unmasked_numbers_anywhere(running_suite: RunningSuite) -> None:
    numbers = raw_numbers()
    assert numbers and all(n.isalnum() for n in numbers)
    pattern = numbers
    # A little more traffic of our own: every listing as every subject.
    listing = running_suite.client.get(running_suite.gateway + "/dev/subjects").json()
    for subject in [item["subject"] for item in listing]:
        token = running_suite.token(subject)
        for path in ("/api/v1/customers?limit=100", "/api/v1/customers/C000002"):
            _get(running_suite, path, token)
    # Everything the attack modules before this one collected, and our own listings.
    bodies = COLLECTED.get(id(running_suite), [])
    assert len(bodies) >= 2 * len(listing)
    findings: list[str] = []
    for body in bodies:
        findings += [f"response: {n}" for n in leaked_numbers(body, pattern)]

    log_lines = 0
    for log in (running_suite.suite.var_dir / "logs").glob("*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            log_lines += 1
            findings += [f"log {log.name}: {n}" for n in leaked_numbers(line, pattern)]

    records = 0
    for auditor in ("auditor.zheng", "secadmin.wu"):
        token = running_suite.token(auditor)
        after = 0
        while True:
            text = _get(
                running_suite,
                f"/api/v1/audit/events?limit=500&after_seq={after}",
                token,
                keep=False,
            )
            body = json.loads(text)
            records += len(body["items"])
            findings += [f"audit: {n}" for n in leaked_numbers(text, pattern)]
            if body.get("next_after_seq") is None:
                break
            after = body["next_after_seq"]
    assert log_lines > 0 and records > 0
    tried = len(bodies) + log_lines + records
    line = report("unmasked numbers", tried, findings)
    assert findings == [], line
