"""`anxin policy lint|test|explain|diff` on the repository's policies and on seeded fixtures."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anxin_cli.main import app

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SNAPSHOT = FIXTURES / "policy_snapshot"  # a frozen copy of the foundation's policy
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["policy", *args])
    return result.exit_code, result.output


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(SNAPSHOT, target)
    return target


# -- lint -----------------------------------------------------------------------
def test_lint_passes_on_the_repository_policy() -> None:
    code, output = run("lint", "--policies", str(POLICIES))
    assert code == 0, output
    assert "0 error(s)" in output


SEEDED = {
    ("catalogue.yaml", 10, "role-not-granted"),  # ghost_role: declared, granted to nobody
    ("fields.yaml", 3, "field-mask"),  # customer.mobile has no mask
    ("fields.yaml", 4, "field-classification"),  # customer.notes has no classification
    ("fields.yaml", 5, "field-mask"),  # customer.card: a mask that does not exist
    ("policy.csv", 10, "duplicate"),  # same as line 3
    ("policy.csv", 11, "unknown-role"),  # auditor
    ("policy.csv", 12, "unknown-subsidiary"),  # moon
    ("policy.csv", 13, "unknown-resource"),  # customer.secrets
    ("policy.csv", 14, "unknown-action"),  # delete
    ("policy.csv", 15, "unknown-level"),  # L9
    ("policy.csv", 16, "unknown-effect"),  # maybe
    ("policy.csv", 17, "arity"),  # five fields
    ("policy.csv", 18, "shadowed"),  # contractor view allow under the pi.* deny of line 8
    ("policy.csv", 19, "unknown-resource"),  # pattern zz.* matches nothing
    ("policy.csv", 20, "rule-type"),  # q
    ("policy.csv", 22, "duplicate"),  # same grant as line 21
    ("policy.csv", 24, "unknown-role"),  # grant of janitor, which does not exist
    ("policy.csv", 25, "unknown-subsidiary"),  # mars
    ("policy.csv", 29, "shadowed"),  # senior_agent allow under the inherited agent deny
}


def test_lint_catches_every_seeded_mistake_with_file_and_line() -> None:
    fixture = FIXTURES / "lint_mistakes"
    code, output = run("lint", "--policies", str(fixture))
    assert code == 1
    found = {
        (Path(file).name, int(line), check)
        for file, line, severity, check in re.findall(
            r"^(\S+):(\d+): (error|warning) \[([\w-]+)\]", output, flags=re.M
        )
        if severity == "error"
    }
    assert found == SEEDED, output
    assert "catalogue.yaml:11: warning [role-without-rules] role 'idle_role'" in output


def test_lint_reports_an_unparseable_model(snapshot: Path) -> None:
    (snapshot / "model.conf").write_text("[request_definition]\nthis is not a model\n")
    code, output = run("lint", "--policies", str(snapshot))
    assert code == 1
    assert "model.conf:1: error [model]" in output


# -- test -----------------------------------------------------------------------
def test_test_passes_on_the_repository_policy_and_reports_coverage() -> None:
    code, output = run("test", "--policies", str(POLICIES))
    assert code == 0, output
    assert re.search(r"rule coverage: \d+/\d+ = [\d.]+%", output)


def test_test_exit_codes_differ_for_failing_cases_and_invalid_policy(snapshot: Path) -> None:
    (snapshot / "tests").mkdir()
    (snapshot / "tests" / "ok.yaml").write_text(
        "cases:\n  - name: agent reads own subsidiary\n"
        "    request: {subject: agent.li, subsidiary: life, resource: customer.profile,"
        " action: read}\n    expect: allow\n"
    )
    assert run("test", "--policies", str(snapshot))[0] == 0
    (snapshot / "tests" / "wrong.yaml").write_text(
        "cases:\n  - name: wrong on purpose\n"
        "    request: {subject: agent.li, subsidiary: bank, resource: customer.profile,"
        " action: read}\n    expect: allow\n"
    )
    code, output = run("test", "--policies", str(snapshot))
    assert code == 1
    assert "FAIL tests/wrong.yaml:2 wrong on purpose" in output
    (snapshot / "tests" / "wrong.yaml").unlink()
    (snapshot / "tests" / "broken.yaml").write_text("cases: [unclosed\n")
    assert run("test", "--policies", str(snapshot))[0] == 3
    (snapshot / "tests" / "broken.yaml").unlink()
    (snapshot / "policy.csv").write_text("p, agent, *, customer.profile\n")
    code, output = run("test", "--policies", str(snapshot))
    assert code == 2, output


def test_facts_and_the_fixed_clock_decide_cases(snapshot: Path) -> None:
    (snapshot / "tests").mkdir()
    (snapshot / "tests" / "facts.yaml").write_text(
        """clock: 2026-06-01T09:00:00+08:00
cases:
  - name: a valid agreement and consent let the contractor read
    request: {subject: contractor.sun, subsidiary: pc, resource: customer.profile, action: read}
    facts: {consent: true, agreement: {valid_from: 2026-01-01, valid_until: 2026-12-31}}
    expect: allow
    matched_rule: "outsourced_agent, *, customer.profile, read, L0, allow"
    field_views: {pi.identity.name: masked, spi.financial.bank_account: hidden}
  - name: the same agreement has expired on a later clock
    request: {subject: contractor.sun, subsidiary: pc, resource: customer.profile, action: read}
    facts: {consent: true, agreement: {valid_until: 2026-12-31}}
    clock: 2027-01-01T00:00:01Z
    expect: deny
    failed_fact: agreement
  - name: no active call
    request: {subject: agent.li, subsidiary: life, resource: customer.contact, action: read,
              level: L1}
    facts: {active_call: false}
    expect: deny
    failed_fact: active_call
"""
    )
    code, output = run("test", "--policies", str(snapshot))
    assert code == 0, output
    assert "3 passed, 0 failed" in output


def test_coverage_under_the_threshold_fails(snapshot: Path) -> None:
    (snapshot / "tests").mkdir()
    (snapshot / "tests" / "few.yaml").write_text(
        "coverage_threshold: 0.9\ncases:\n  - name: one case\n"
        "    request: {subject: agent.li, subsidiary: life, resource: customer.profile,"
        " action: read}\n    expect: allow\n"
    )
    code, output = run("test", "--policies", str(snapshot))
    assert code == 1
    assert "rule coverage: 1/" in output and "is under 90%" in output
    assert "not covered: policy.csv:" in output
    assert run("test", "--policies", str(snapshot), "--min-coverage", "0")[0] == 0


# -- explain --------------------------------------------------------------------
def test_explain_prints_role_chain_rules_and_failed_facts() -> None:
    code, output = run(
        "explain",
        "supervisor.liu",
        "life",
        "customer.contact",
        "read",
        "--level",
        "L1",
        "--fact",
        "consent=true",
        "--fact",
        "agreement=2025-12-31",
        "--at",
        "2026-03-01T00:00:00Z",
        "--policies",
        str(SNAPSHOT),
    )
    assert code == 1  # the agreement fact failed
    assert "DENY  supervisor.liu life customer.contact read L1" in output
    assert "supervisor.liu -> supervisor  (g, supervisor.liu, supervisor, life)" in output
    assert "senior_agent -> agent  (g, senior_agent, agent, *)" in output
    assert "matched rule:   agent, *, customer.contact, read, L1, allow" in output
    assert "policy.csv:8: agent, *, customer.contact, read, L1, allow" in output
    assert "failed facts:   agreement" in output


def test_explain_shows_deny_overriding_allow_on_both_paths() -> None:
    for extra in ([], ["--stock"]):
        code, output = run(
            "explain",
            "contractor.sun",
            "pc",
            "customer.profile",
            "unmask",
            "--level",
            "L3",
            "--policies",
            str(SNAPSHOT),
            *extra,
        )
        assert code == 1
        assert "matching deny rules: 1" in output
        assert "policy.csv:24: outsourced_agent, *, customer.profile, unmask, L0, deny" in output
        assert "matched rule:   outsourced_agent, *, customer.profile, unmask, L0, deny" in output


# -- diff -----------------------------------------------------------------------
AGENT_HOLDERS = {
    ("agent.li", "life"),
    ("agent.zhang", "pc"),
    ("agent.wang", "bank"),
    ("senior.chen", "life"),
    *((role, sub) for role in ("agent", "senior_agent") for sub in ("group", "life", "pc", "bank")),
}


def flips(output: str) -> set[tuple[str, ...]]:
    return {
        tuple(match)
        for match in re.findall(
            r"^  (decision|field_view): (\S+) (\S+) (\S+) (\S+) (L\d): "
            r"(\w+) -> (\w+)",
            output,
            flags=re.M,
        )
    }


def test_diff_lists_exactly_the_decisions_a_one_line_change_flips(snapshot: Path) -> None:
    with (snapshot / "policy.csv").open("a") as handle:
        handle.write("p, agent, *, audit.event, read, L0, allow\n")
    code, output = run("diff", "--against", str(SNAPSHOT), "--policies", str(snapshot))
    assert code == 0, output
    # Supervisors already read audit events, so only agents and senior agents flip.
    expected = {
        ("decision", subject, sub, "audit.event", "read", level, "deny", "allow")
        for subject, sub in AGENT_HOLDERS
        for level in ("L0", "L1", "L2", "L3")
    }
    assert flips(output) == expected
    assert f"{len(expected)} decision(s) flipped ({len(expected)} deny -> allow" in output
    assert f"  {len(expected):6d}  decision   audit.event read: deny -> allow" in output


def test_diff_lists_field_views_a_one_line_change_flips(snapshot: Path) -> None:
    with (snapshot / "policy.csv").open("a") as handle:
        handle.write("p, agent, *, pi.contact.*, view.plain, L2, allow\n")
    code, output = run("diff", "--against", str(SNAPSHOT), "--policies", str(snapshot))
    assert code == 0, output
    holders = AGENT_HOLDERS | {
        ("supervisor.liu", "life"),
        ("supervisor.zhao", "bank"),
        *(("supervisor", sub) for sub in ("group", "life", "pc", "bank")),
    }
    expected = {
        ("field_view", subject, sub, classification, "view", "L2", "masked", "plain")
        for subject, sub in holders
        for classification in ("pi.contact.address", "pi.contact.email", "pi.contact.phone")
    }
    assert flips(output) == expected
    assert "0 decision(s) flipped" in output


def test_diff_of_identical_policies_is_empty_and_exit_code_flag_works(snapshot: Path) -> None:
    code, output = run(
        "diff", "--against", str(SNAPSHOT), "--policies", str(snapshot), "--exit-code"
    )
    assert code == 0 and "0 decision(s) flipped" in output and "0 field view(s)" in output
    with (snapshot / "policy.csv").open("a") as handle:
        handle.write("p, agent, *, customer.profile, read, L0, deny\n")
    code, output = run(
        "diff", "--against", str(SNAPSHOT), "--policies", str(snapshot), "--exit-code"
    )
    assert code == 1 and "allow -> deny" in output


def test_diff_against_a_git_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SNAPSHOT, repo / "policies")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "policies"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    with (repo / "policies" / "policy.csv").open("a") as handle:
        handle.write("p, agent, *, audit.event, read, L0, allow\n")
    code, output = run("diff", "--base", "HEAD", "--policies", str(repo / "policies"))
    assert code == 0, output
    assert "policy diff: HEAD (" in output
    assert len([f for f in flips(output) if f[0] == "decision"]) == len(AGENT_HOLDERS) * 4
    code, output = run("diff", "--base", "no-such-ref", "--policies", str(repo / "policies"))
    assert code == 2
