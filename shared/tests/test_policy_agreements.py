"""Outsourced staff work only under a confidentiality agreement in force (catalogue.yaml)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from anxin_shared.policy import PolicyEngine, PolicyLoadError
from anxin_shared.policy_lint import lint_policies

POLICIES = Path(__file__).resolve().parents[2] / "policies"
READ = ("pc", "customer.profile", "read", "L1")


def copy_with(tmp_path: Path, **agreement: object) -> Path:
    """The repository's policies with contractor.sun's agreement replaced (None: removed)."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    catalogue = yaml.safe_load((target / "catalogue.yaml").read_text(encoding="utf-8"))
    if agreement.get("remove"):
        del catalogue["agreements"]["contractor.sun"]
    else:
        catalogue["agreements"]["contractor.sun"].update(agreement)
    (target / "catalogue.yaml").write_text(
        yaml.safe_dump(catalogue, allow_unicode=True), encoding="utf-8"
    )
    return target


def engine_at(policies: Path, moment: datetime) -> PolicyEngine:
    engine = PolicyEngine(policies, clock=lambda: moment)
    engine.load()
    return engine


def test_the_contractor_reads_inside_the_window_and_nothing_outside_it(tmp_path: Path) -> None:
    policies = copy_with(
        tmp_path,
        valid_from=datetime(2026, 3, 1).date(),
        valid_until=datetime(2026, 9, 30).date(),
    )
    inside = engine_at(policies, datetime(2026, 9, 30, 23, 0, tzinfo=UTC))
    assert inside.decide("contractor.sun", *READ).allowed
    for moment in (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)):
        decision = engine_at(policies, moment).decide("contractor.sun", *READ)
        assert not decision.allowed
        assert decision.failed_fact == "agreement"
        assert "no confidentiality agreement in force" in " ".join(decision.reasons)
    # Staff in other roles are untouched by the contractor's agreement.
    later = engine_at(policies, datetime(2026, 10, 1, tzinfo=UTC))
    assert later.decide("agent.zhang", *READ).allowed


def test_no_agreement_means_every_decision_is_denied_and_lint_says_why(tmp_path: Path) -> None:
    policies = copy_with(tmp_path, remove=True)
    decision = engine_at(policies, datetime(2026, 6, 1, tzinfo=UTC)).decide("contractor.sun", *READ)
    assert not decision.allowed and decision.failed_fact == "agreement"
    codes = {(m.code, m.severity) for m in lint_policies(policies)}
    assert ("agreement-missing", "error") in codes


def test_a_malformed_agreement_refuses_the_load_and_fails_lint(tmp_path: Path) -> None:
    policies = copy_with(tmp_path, valid_until="someday")
    with pytest.raises(PolicyLoadError, match="valid_until"):
        PolicyEngine(policies).load()
    assert any(m.code == "agreement" for m in lint_policies(policies))
