"""scripts/proof.py: the README's Proof table from sample results (no suite needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.proof import (
    ATTACK_CLASSES,
    END,
    MET,
    MISS,
    NOT_RUN,
    START,
    main,
    render,
    replace_block,
    run_everything,
    table_rows,
)

AT = "2026-11-26T13:00:00+00:00"


def write(directory: Path, name: str, data: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(data), encoding="utf-8")


def results(row_area: str, rows: list[Any]) -> Any:
    return next(r for r in rows if r.area == row_area)


@pytest.fixture
def proof_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "proof"
    write(
        directory,
        "attacks.json",
        {
            "name": "attacks",
            "generated_at": AT,
            "rows": [
                {"class": "bola", "tried": 1185, "accepted": 0, "at": AT},
                {"class": "path variants", "tried": 1826, "accepted": 2, "at": AT},
                {"class": "jwt forgery", "tried": 0, "accepted": 0, "at": AT},
            ],
        },
    )
    write(
        directory,
        "faults.json",
        {
            "name": "faults",
            "generated_at": "2026-11-25T10:00:00+00:00",
            "rows": [
                {
                    "fault": "kill",
                    "target": "policy",
                    "calls": 1200,
                    "wrongly_allowed": 0,
                    "lost": 0,
                    "duplicated": 0,
                    "not_closed": 0,
                    "late": 0,
                    "fail_closed_p99_ms": 120.0,
                    "fail_closed_max_ms": 130.5,
                    "fail_closed_limit_ms": 5100,
                },
                {
                    "fault": "hang",
                    "target": "audit",
                    "calls": 800,
                    "wrongly_allowed": 0,
                    "lost": 1,
                    "duplicated": 0,
                    "not_closed": 0,
                    "late": 1,
                    "fail_closed_p99_ms": 5090.0,
                    "fail_closed_max_ms": 5250.0,
                    "fail_closed_limit_ms": 5100,
                },
            ],
            "totals": {"calls": 2000},
        },
    )
    write(
        directory,
        "gateway.json",
        {
            "name": "gateway",
            "generated_at": AT,
            "machine": "2 cores",
            "rows": [],
            "targets": [
                {"target": "(c) / (a) throughput", "value": 0.61, "limit": ">= 0.5", "met": True},
                {
                    "target": "p99 added at 200 rps (ms)",
                    "value": 7.2,
                    "limit": "<= 5",
                    "met": False,
                },
            ],
        },
    )
    return directory


def test_rows_show_met_miss_and_not_run(proof_dir: Path) -> None:
    rows = table_rows(proof_dir)
    assert results("attack: bola", rows).result == MET
    assert results("attack: bola", rows).figure == "tried 1,185, accepted 0"
    assert results("attack: path variants", rows).result == MISS
    # Nothing tried is no proof.
    assert results("attack: jwt forgery", rows).result == MISS
    # Classes that did not report, and a missing schemathesis file, are not run.
    assert results("attack: ending grants", rows).result == NOT_RUN
    assert results("schemathesis (stateless, bounded)", rows).result == NOT_RUN
    assert results("faults: wrongly allowed", rows).result == MET
    assert results("faults: audit events lost", rows).result == MISS
    assert results("faults: calls not failed closed", rows).result == MET
    slowest = results("faults: slowest fail-closed answer", rows)
    assert slowest.figure == "max 5,250 ms (hang audit)" and slowest.result == MISS
    assert slowest.target == "5,100 ms (timeout + 100 ms)"
    assert results("gateway: (c) / (a) throughput", rows).result == MET
    assert results("gateway: p99 added at 200 rps (ms)", rows).result == MISS
    table = render(rows)
    assert (
        "| attack: path variants | tried 1,826, accepted 2 | accepted 0 | **MISS** | 2026-11-26 |"
        in (table)
    )
    assert "| faults: calls under load | 2,000 in 2 scenarios | > 0 | met | 2026-11-25 |" in table
    assert table.count("\n") == len(rows) + 1


def test_nothing_run_passes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "gateway.json", {"rows": "not a list"})
    (tmp_path / "faults.json").write_text("{truncated", encoding="utf-8")
    rows = table_rows(tmp_path)
    assert {r.result for r in rows} == {NOT_RUN}
    assert len(rows) == len(ATTACK_CLASSES) + 2 + 1 + 1


def test_block_replacement_is_idempotent_and_keeps_the_rest() -> None:
    text = f"# Title\n\n## Proof\n\nIntro.\n\n{START}\nold table\n{END}\n\n## Status\nmore\n"
    once = replace_block(text, "| new |")
    assert once == f"# Title\n\n## Proof\n\nIntro.\n\n{START}\n| new |\n{END}\n\n## Status\nmore\n"
    assert replace_block(once, "| new |") == once
    with pytest.raises(ValueError, match="no"):
        replace_block("# no markers\n", "| new |")


def test_main_rewrites_the_readme_block(proof_dir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\n{END}\nafter\n", encoding="utf-8")
    args = ["--proof-dir", str(proof_dir), "--readme", str(readme)]
    assert main(args) == 0
    first = readme.read_text(encoding="utf-8")
    assert first.startswith(f"before\n{START}\n| area | figure | target | result | date |")
    assert first.endswith(f"{END}\nafter\n") and "**MISS**" in first
    assert main(args) == 0
    assert readme.read_text(encoding="utf-8") == first


def test_a_fresh_run_never_reuses_old_results(proof_dir: Path) -> None:
    commands: list[list[str]] = []

    def runner(command: list[str]) -> int:
        commands.append(command)
        return 2 if command == ["make", "faults"] else 0

    failed = run_everything(proof_dir, runner)
    assert failed == ["fault harness"]
    assert [c[-1] for c in commands] == ["tests/security", "faults", "bench-gateway"]
    assert {r.result for r in table_rows(proof_dir)} == {NOT_RUN}


def test_fail_closed_timing_needs_a_limit_to_pass(tmp_path: Path) -> None:
    row = {"fault": "slow", "target": "consent", "calls": 10, "wrongly_allowed": 0, "lost": 0}
    write(tmp_path, "faults.json", {"rows": [{**row, "duplicated": 0, "fail_closed_p99_ms": 90}]})
    slowest = results("faults: slowest fail-closed answer", table_rows(tmp_path))
    assert slowest.figure == "p99 90 ms (slow consent)" and slowest.result not in (MET, MISS)
    limited = {**row, "duplicated": 0, "fail_closed_p99_ms": 90, "fail_closed_limit_ms": 5100}
    write(tmp_path, "faults.json", {"rows": [limited]})
    assert results("faults: slowest fail-closed answer", table_rows(tmp_path)).result == MET
