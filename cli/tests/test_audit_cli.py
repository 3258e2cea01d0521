"""`anxin audit verify --export/--checkpoint`: offline verification of a real chain's copy."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select
from typer.testing import CliRunner

from anxin_audit.checkpoints.models import AuditCheckpoint
from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.checkpoints.signing import load_signing_key, public_key_path, sign_checkpoint
from anxin_audit.events.chain import record_hash
from anxin_audit.events.export import write_export
from anxin_audit.events.repository import chain_rows
from anxin_audit.events.service import append
from anxin_cli.main import app
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database

MIGRATIONS = (
    Path(__file__).resolve().parents[2] / "services" / "audit" / "anxin_audit" / "migrations"
)
runner = CliRunner()


def event(number: int) -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "event_id": uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC),
            "producer": "gateway",
            "actor": f"agent.{number}",
            "actor_kind": "user",
            "action": "read",
            "resource": "customer.profile",
            "allowed": True,
            "domain": "life",
        }
    )


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An export of a real 30-record chain, its anchor file and the public key."""
    key_file = tmp_path / "keys" / "audit-checkpoint.ed25519.pem"
    checkpointer = Checkpointer(load_signing_key(key_file, generate=True), 10)
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    database.migrate()
    for start in range(0, 30, 3):
        append(database, [event(start + i) for i in range(3)], checkpointer)
    with database.session() as session:
        rows = chain_rows(session)
        anchors = [cp.as_checkpoint() for cp in session.exec(select(AuditCheckpoint)).all()]
    assert [cp.seq for cp in anchors] == [12, 21, 30]
    export = tmp_path / "chain.jsonl"
    with export.open("w", encoding="utf-8") as handle:
        write_export(handle, None, rows, anchors)
    anchor_file = tmp_path / "anchor.jsonl"
    anchor_file.write_text("".join(json.dumps(cp.as_dict()) + "\n" for cp in anchors))
    return export, anchor_file, public_key_path(key_file)


def verify(*args: str | Path) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["audit", "verify", *map(str, args)])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rewrite(path: Path, items: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))


def record_index(items: list[dict[str, object]], seq: int) -> int:
    return next(
        i for i, item in enumerate(items) if item["type"] == "record" and item["seq"] == seq
    )


def test_an_untouched_export_verifies(chain: tuple[Path, Path, Path]) -> None:
    export, anchors, key = chain
    code, report = verify("--export", export, "--public-key", key)
    assert code == 0 and report["ok"] and report["head_seq"] == 30
    assert report["checkpoints_verified"] == 3
    code, report = verify("--export", export, "--checkpoint", anchors, "--public-key", key)
    assert code == 0 and report["ok"]


def test_every_tamper_class_fails_with_the_first_bad_seq(
    chain: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    export, anchors, key = chain
    original = lines(export)

    def edited(items: list[dict[str, object]]) -> None:
        i = record_index(items, 7)
        items[i]["body"] = str(items[i]["body"]).replace("agent.6", "agent.x")

    def deleted(items: list[dict[str, object]]) -> None:
        del items[record_index(items, 7)]

    def reordered(items: list[dict[str, object]]) -> None:
        i, j = record_index(items, 7), record_index(items, 8)
        items[i], items[j] = items[j], items[i]

    def inserted(items: list[dict[str, object]]) -> None:
        i = record_index(items, 7)
        forged = dict(items[i])
        forged["body"] = str(forged["body"]).replace("agent.6", "agent.y")
        items.insert(i + 1, forged)

    def duplicated(items: list[dict[str, object]]) -> None:
        i = record_index(items, 7)
        items.insert(i + 1, dict(items[i]))

    def rehashed(items: list[dict[str, object]]) -> None:
        edited(items)
        prev = None
        for item in items:
            if item["type"] == "record":
                seq = int(str(item["seq"]))
                if prev is not None:
                    item["prev_hash"] = prev
                if seq >= 7:
                    item["hash"] = record_hash(seq, str(item["prev_hash"]), str(item["body"]))
                prev = item["hash"]

    def truncated(items: list[dict[str, object]]) -> None:
        items[:] = [i for i in items if i["type"] != "record" or int(str(i["seq"])) <= 25]
        items[:] = [i for i in items if i["type"] != "checkpoint" or int(str(i["seq"])) <= 25]

    cases = {
        "edited": (edited, 7),
        "deleted": (deleted, 7),
        "reordered": (reordered, 7),
        "inserted": (inserted, 8),
        "duplicated": (duplicated, 8),
        "re-hashed": (rehashed, 1),
        "truncated": (truncated, 26),
    }
    for name, (tamper, first_bad) in cases.items():
        items = [dict(item) for item in original]
        tamper(items)
        copy = tmp_path / f"{name}.jsonl"
        rewrite(copy, items)
        code, report = verify("--export", copy, "--checkpoint", anchors, "--public-key", key)
        assert code == 1, name
        assert report["ok"] is False, name
        assert report["first_bad_seq"] == first_bad, (name, report["problem"])


def test_a_forged_anchor_file_is_refused(chain: tuple[Path, Path, Path], tmp_path: Path) -> None:
    export, anchors, key = chain
    genuine = lines(anchors)
    forged = sign_checkpoint(
        Ed25519PrivateKey.generate(),
        checkpoint_no=4,
        partition="main",
        seq=40,
        head_hash="3" * 64,
        taken_at="2026-11-26T00:00:00Z",
        kind="periodic",
    ).as_dict()
    forged["key_id"] = genuine[0]["key_id"]
    bad = tmp_path / "forged-anchor.jsonl"
    rewrite(bad, [*genuine, forged])
    code, report = verify("--export", export, "--checkpoint", bad, "--public-key", key)
    assert code == 1 and "invalid signature" in str(report["problem"])


def test_unusable_inputs_exit_2(chain: tuple[Path, Path, Path], tmp_path: Path) -> None:
    export, _, key = chain
    assert verify("--export", tmp_path / "missing.jsonl", "--public-key", key)[0] == 2
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not an export\n")
    assert verify("--export", junk, "--public-key", key)[0] == 2
    assert verify("--export", export, "--public-key", tmp_path / "nokey.pem")[0] == 2
