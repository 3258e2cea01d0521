"""The policy engine: versions, hot reload with an atomic swap, decisions that explain."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from anxin_shared.policy import PolicyEngine, PolicyLoadError, PolicyUnavailable
from anxin_shared.policy_cases import run_cases

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def test_repository_policy_passes_its_own_cases() -> None:
    engine = PolicyEngine(POLICIES)
    engine.load()
    results = run_cases(engine)
    assert results, "policies/tests holds no cases"
    failed = [f"{r.file}:{r.line} {r.name}: {r.message}" for r in results if not r.passed]
    assert failed == []


def test_a_case_that_is_wrong_fails(policies: Path) -> None:
    (policies / "tests" / "wrong.yaml").write_text(
        "cases:\n  - name: wrong on purpose\n"
        "    request: {subject: agent.li, subsidiary: bank, resource: customer.profile,"
        " action: read, level: L0}\n    expect: allow\n"
    )
    engine = PolicyEngine(policies)
    engine.load()
    failed = [r for r in run_cases(engine) if not r.passed]
    assert [(r.file, r.line) for r in failed] == [("wrong.yaml", 2)]


def test_version_is_the_content_hash(policies: Path) -> None:
    engine = PolicyEngine(policies)
    first = engine.load()
    assert PolicyEngine(POLICIES).load() == first
    with (policies / "policy.csv").open("a") as handle:
        handle.write("\n# a comment changes the content, so the version\n")
    assert engine.reload_if_changed() is True
    assert engine.version != first
    assert engine.reload_if_changed() is False


def test_reload_changes_decisions_and_empties_the_cache(policies: Path) -> None:
    engine = PolicyEngine(policies)
    engine.load()
    assert not engine.decide("agent.li", "life", "audit.event", "read").allowed
    with (policies / "policy.csv").open("a") as handle:
        handle.write("\np, agent, *, audit.event, read, L0, allow\n")
    engine.reload_if_changed()
    assert engine.decide("agent.li", "life", "audit.event", "read").allowed


def test_an_invalid_policy_is_refused_and_the_last_good_one_stays(policies: Path) -> None:
    engine = PolicyEngine(policies)
    version = engine.load()
    (policies / "model.conf").write_text("[request_definition]\nthis is not a model\n")
    assert engine.reload_if_changed() is False
    assert engine.version == version
    assert engine.last_error
    assert engine.decide("agent.li", "life", "customer.profile", "read").allowed


def test_no_policy_means_every_decision_fails_closed(tmp_path: Path) -> None:
    engine = PolicyEngine(tmp_path)
    with pytest.raises(PolicyLoadError):
        engine.load()
    with pytest.raises(PolicyUnavailable):
        engine.decide("agent.li", "life", "customer.profile", "read")


def test_deny_overrides_allow_and_says_so() -> None:
    engine = PolicyEngine(POLICIES)
    engine.load()
    decision = engine.decide("contractor.sun", "pc", "customer.profile", "unmask", "L3")
    assert not decision.allowed
    assert decision.failed_fact == "policy"
    assert decision.matched_rule and decision.matched_rule.endswith("deny")


def test_missing_fact_is_named() -> None:
    engine = PolicyEngine(POLICIES)
    engine.load()
    decision = engine.decide(
        "agent.li", "life", "customer.profile", "read", "L0", facts={"consent": False}
    )
    assert not decision.allowed and decision.failed_fact == "consent"
    level = engine.decide("agent.li", "life", "customer.household", "read", "L1")
    assert level.failed_fact == "assurance_level" and "L2" in level.reasons[0]


def test_an_unknown_level_counts_as_l0() -> None:
    engine = PolicyEngine(POLICIES)
    engine.load()
    assert (
        engine.decide("agent.li", "life", "customer.household", "read", "L9").assurance_level
        == "L0"
    )


def test_swap_is_atomic_under_concurrent_decisions(policies: Path) -> None:
    engine = PolicyEngine(policies)
    engine.load()
    original = (policies / "policy.csv").read_text()
    errors: list[BaseException] = []
    stop = threading.Event()

    def decide() -> None:
        while not stop.is_set():
            try:
                decision = engine.decide("agent.li", "life", "customer.profile", "read")
                assert decision.allowed
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for thread in threads:
        thread.start()
    for index in range(20):
        (policies / "policy.csv").write_text(original + f"\n# edit {index}\n")
        engine.reload_if_changed()
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
