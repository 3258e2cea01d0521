"""Issue 11 part 1: `anxin compliance report` against the real suite.

Every control passes with evidence links that resolve in the audit trail; a
policy copy that lets contractors unmask makes the outsourcing control fail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from anxin_cli.compliance import signing
from anxin_cli.main import app
from tests.support import RunningSuite

runner = CliRunner()


def report(suite: RunningSuite, out: Path, *extra: str, policies: Path | None = None) -> Any:
    return runner.invoke(
        app,
        [
            "compliance",
            "report",
            "--out",
            str(out),
            "--gateway",
            suite.gateway,
            "--var",
            str(suite.suite.var_dir),
            "--policies",
            str(policies or suite.policies_dir),
            "--catalogue",
            str(Path(__file__).resolve().parents[2] / "policies" / "controls.yaml"),
            *extra,
        ],
    )


def api(suite: RunningSuite, url: str, subject: str) -> Any:
    response = suite.client.get(url, headers={"authorization": f"Bearer {suite.token(subject)}"})
    assert response.status_code == 200, (url, response.text)
    return response.json()


def test_every_control_passes_with_evidence_that_resolves(
    running_suite: RunningSuite, tmp_path: Path
) -> None:
    result = report(running_suite, tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page
    assert signing.verify(data) is None
    assert data["summary"] == {"pass": len(data["controls"]), "fail": 0, "not_evidenced": 0}
    for control in data["controls"]:
        assert control["status"] == "pass", control
        assert control["id"] in page
        audited = [ref for ref in control["evidence"] if "event_id" in ref and "link" in ref]
        policy = [ref for ref in control["evidence"] if "policy_version" in ref]
        assert audited or policy or control["checkpoints"], control["id"]
        for ref in audited:
            found = api(running_suite, ref["link"], "auditor.zheng")["items"]
            assert (ref["seq"], ref["hash"]) in {
                (item["seq"], item["hash"])
                for item in found
                if item["event"]["event_id"] == ref["event_id"]
            }, ref
        for ref in policy:
            assert ref["policy_version"] == data["policy"]["live_version"]
        for ref in control["evidence"]:
            if "alert_id" in ref:
                alert = api(running_suite, ref["link"], "secadmin.wu")
                assert alert["status"] != "open"
    # The checkpoints cited, and the one recording the report, are the trail's own.
    listed = api(
        running_suite, f"{running_suite.gateway}/api/v1/audit/checkpoints?limit=1000", "secadmin.wu"
    )
    signed = {(cp["seq"], cp["head_hash"]) for cp in listed["items"]}
    cited = [cp for control in data["controls"] for cp in control["checkpoints"]]
    assert cited and all((cp["seq"], cp["head_hash"]) in signed for cp in cited)
    recorded = data["recorded_in_audit"]
    assert recorded["recorded"] is True
    assert (recorded["checkpoint"]["seq"], recorded["checkpoint"]["head_hash"]) in signed
    assert recorded["events"] and recorded["events"][0]["resource"] == "audit.checkpoint"
    trail = data["figures"]["trail"]
    assert trail["decisions"] > 0 and trail["denials"] > 0
    assert data["figures"]["alerts"]["handled"] >= 1
    # The signed hash itself is an event on the chain, and verify finds it there.
    attestation = data["attestation"]
    assert attestation["recorded"] is True
    assert attestation["document_sha256"] == data["signature"]["sha256"]
    (event,) = [
        item
        for item in api(running_suite, attestation["link"], "auditor.zheng")["items"]
        if item["event"]["event_id"] == attestation["event_id"]
    ]
    assert (event["seq"], event["hash"]) == (attestation["seq"], attestation["hash"])
    assert event["event"]["kind"] == "attestation"
    assert event["event"]["document_sha256"] == data["signature"]["sha256"]
    assert verify(running_suite, tmp_path / "report.json").exit_code == 0
    # A report whose attestation names another hash is refused, even with a good signature.
    forged = dict(data, attestation=dict(attestation, document_sha256="0" * 64))
    (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    refused = verify(running_suite, tmp_path / "forged.json")
    assert refused.exit_code == 1 and "another hash" in refused.output


def verify(suite: RunningSuite, path: Path) -> Any:
    return runner.invoke(
        app,
        [
            "compliance",
            "verify",
            str(path),
            "--gateway",
            suite.gateway,
            "--var",
            str(suite.suite.var_dir),
            "--policies",
            str(suite.policies_dir),
        ],
    )


def test_attestations_are_for_named_documents_and_named_roles(
    running_suite: RunningSuite,
) -> None:
    url = f"{running_suite.gateway}/api/v1/audit/attestations"
    body = {"document_kind": "compliance_report", "document_sha256": "a" * 64, "key_id": "k:1"}
    agent = running_suite.client.post(
        url, json=body, headers={"authorization": f"Bearer {running_suite.token('agent.li')}"}
    )
    assert agent.status_code == 403, agent.text
    admin = {"authorization": f"Bearer {running_suite.token('secadmin.wu')}"}
    for bad in (
        dict(body, document_kind="anything"),
        dict(body, document_sha256="not-a-hash"),
        dict(body, content="the document itself"),
    ):
        refused = running_suite.client.post(url, json=bad, headers=admin)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    created = running_suite.client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["document_sha256"] == "a" * 64


def test_a_policy_letting_contractors_unmask_fails(
    running_suite: RunningSuite, tmp_path: Path
) -> None:
    broken = tmp_path / "policies"
    shutil.copytree(running_suite.policies_dir, broken)
    policy = broken / "policy.csv"
    line = "p, outsourced_agent, *, customer.profile, unmask, L0, deny"
    text = policy.read_text(encoding="utf-8")
    assert line in text
    policy.write_text(text.replace(line, line.replace("deny", "allow")), encoding="utf-8")
    result = report(
        running_suite, tmp_path / "out", "--control", "AX-09", "--no-record", policies=broken
    )
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    (control,) = data["controls"]
    assert control["id"] == "AX-09" and control["status"] == "fail"
    failed = [check for check in control["checks"] if check["status"] == "fail"]
    assert [check["kind"] for check in failed] == ["policy"]
    assert "allow" in failed[0]["detail"]
    assert data["summary"]["fail"] == 1
