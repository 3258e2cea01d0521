"""Policy-based control checks and control verdicts, on the repository policy and broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from anxin_cli.compliance.catalogue import load_catalogue
from anxin_cli.compliance.checks import FAIL, NOT_EVIDENCED, PASS, CheckContext, CheckResult
from anxin_cli.compliance.report import control_entry, control_status, evaluate_controls
from anxin_shared.policy import PolicyEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def engine_for(folder: Path) -> PolicyEngine:
    engine = PolicyEngine(folder)
    engine.load()
    return engine


def policy_outcomes(engine: PolicyEngine, live: str | None) -> dict[str, set[str]]:
    catalogue = load_catalogue(POLICIES / "controls.yaml")
    policy_only = [
        control.__class__(
            **{
                **control.__dict__,
                "checks": tuple(c for c in control.checks if c["kind"] == "policy"),
            }
        )
        for control in catalogue.controls
        if any(c["kind"] == "policy" for c in control.checks)
    ]
    ctx = CheckContext(api=None, engine=engine, live_policy_version=live)
    return {
        control.id: {r.status for r in results}
        for control, results in evaluate_controls(policy_only, ctx)
    }


def test_the_repository_policy_meets_every_policy_check() -> None:
    engine = engine_for(POLICIES)
    outcomes = policy_outcomes(engine, engine.version)
    assert outcomes and all(statuses == {PASS} for statuses in outcomes.values()), outcomes


def test_a_policy_letting_contractors_unmask_fails_the_outsourcing_control(tmp_path: Path) -> None:
    broken = tmp_path / "policies"
    shutil.copytree(POLICIES, broken)
    policy = broken / "policy.csv"
    text = policy.read_text(encoding="utf-8")
    line = "p, outsourced_agent, *, customer.profile, unmask, L0, deny"
    assert line in text
    policy.write_text(
        text.replace(line, "p, outsourced_agent, *, customer.profile, unmask, L0, allow"),
        encoding="utf-8",
    )
    engine = engine_for(broken)
    outcomes = policy_outcomes(engine, engine.version)
    assert FAIL in outcomes["AX-09"]
    others = {cid: s for cid, s in outcomes.items() if cid != "AX-09"}
    assert all(statuses == {PASS} for statuses in others.values()), others


def test_a_policy_not_in_force_is_not_evidence() -> None:
    engine = engine_for(POLICIES)
    outcomes = policy_outcomes(engine, "0000000000000000")
    assert all(statuses == {NOT_EVIDENCED} for statuses in outcomes.values())


def test_no_evidence_never_passes() -> None:
    ok = CheckResult("probe", "p", PASS, "ok", evidence=[{"seq": 1}])
    bare = CheckResult("probe", "p", PASS, "ok")
    unproven = CheckResult("probe", "p", NOT_EVIDENCED, "no audit record")
    broken = CheckResult("probe", "p", FAIL, "allowed")
    assert control_status([ok]) == PASS
    assert control_status([]) == NOT_EVIDENCED
    assert control_status([bare]) == NOT_EVIDENCED
    assert control_status([ok, unproven]) == NOT_EVIDENCED
    assert control_status([ok, unproven, broken]) == FAIL
    assert control_status([ok], "an unmask without a reason") == FAIL


def test_an_unmask_without_a_reason_fails_the_unmask_control() -> None:
    catalogue = load_catalogue(POLICIES / "controls.yaml")
    control = next(c for c in catalogue.controls if c.id == "AX-10")
    ok = CheckResult("probe", "p", PASS, "ok", evidence=[{"seq": 1}])
    figures = {"trail": {"unmasks": {"without_reason": [{"seq": 7}]}}}
    assert control_entry(control, [ok], figures)["status"] == FAIL
    figures = {"trail": {"unmasks": {"without_reason": []}}}
    assert control_entry(control, [ok], figures)["status"] == PASS


def agreements_check(folder: Path) -> CheckResult:
    from anxin_cli.compliance.checks import check_agreements

    engine = engine_for(folder)
    ctx = CheckContext(api=None, engine=engine, live_policy_version=engine.version)
    check = {"kind": "agreements", "resource": "customer.profile", "action": "read", "level": "L1"}
    return check_agreements(check, ctx)


def test_contractors_agreements_pass_in_force_and_fail_when_lapsed(tmp_path: Path) -> None:
    result = agreements_check(POLICIES)
    assert result.status == PASS, result.detail
    assert [ref["decision_after_lapse"] for ref in result.evidence] == ["deny"]
    lapsed = tmp_path / "lapsed"
    shutil.copytree(POLICIES, lapsed)
    catalogue = lapsed / "catalogue.yaml"
    text = catalogue.read_text(encoding="utf-8")
    assert "valid_until: 2030-12-31" in text
    catalogue.write_text(
        text.replace(
            "valid_from: 2026-01-01, valid_until: 2030-12-31",
            "valid_from: 2024-01-01, valid_until: 2025-12-31",
        ),
        encoding="utf-8",
    )
    result = agreements_check(lapsed)
    assert result.status == FAIL and "contractor.sun has no agreement in force" in result.detail
