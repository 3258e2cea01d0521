"""Checkpoint keys in settings, and the export of checkpoints to external anchors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from anxin_audit.checkpoints.service import Checkpointer, export_to_anchors
from anxin_audit.checkpoints.signing import (
    Checkpoint,
    load_public_key,
    load_signing_key,
    public_key_path,
    read_anchor_file,
    signature_problem,
)
from anxin_audit.events.service import append, checkpoint_now
from anxin_audit.settings import AuditSettings
from anxin_shared.audit_event import AuditEvent
from anxin_shared.db import Database
from anxin_shared.settings import ConfigurationError

MIGRATIONS = Path(__file__).resolve().parents[1] / "anxin_audit" / "migrations"
PROD_DB = "postgresql+psycopg://audit@127.0.0.1/audit"


def event() -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "event_id": uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC),
            "producer": "test",
            "actor": "agent.li",
            "actor_kind": "user",
            "action": "read",
            "resource": "customer.profile",
            "allowed": True,
        }
    )


def test_production_refuses_to_start_without_the_checkpoint_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    with pytest.raises(ConfigurationError, match="checkpoint key"):
        AuditSettings(env="prod", keys_dir=keys, database_url=PROD_DB)
    load_signing_key(keys / "audit-checkpoint.ed25519.pem", generate=True)
    settings = AuditSettings(env="prod", keys_dir=keys, database_url=PROD_DB)
    assert settings.anchor_file is None  # production names its anchor on purpose
    dev = AuditSettings(var_dir=tmp_path)
    assert dev.checkpoint_key_file == tmp_path / "keys" / "audit-checkpoint.ed25519.pem"
    assert dev.anchor_file == tmp_path / "audit-anchor.jsonl"


async def test_checkpoints_go_to_the_anchor_file_and_url_once_each(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "audit-checkpoint.ed25519.pem"
    checkpointer = Checkpointer(load_signing_key(key_file, generate=True), 3)
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}", MIGRATIONS)
    database.migrate()
    append(database, [event() for _ in range(4)], checkpointer)
    checkpoint_now(database, checkpointer)  # the head did not move: no second checkpoint
    append(database, [event()], checkpointer)
    checkpoint_now(database, checkpointer)

    posted: list[dict[str, object]] = []
    up = True

    def anchor_service(request: httpx.Request) -> httpx.Response:
        if not up:
            return httpx.Response(503)
        posted.extend(json.loads(request.content)["checkpoints"])
        return httpx.Response(204)

    anchor = tmp_path / "anchor" / "audit-anchor.jsonl"
    async with httpx.AsyncClient(transport=httpx.MockTransport(anchor_service)) as http:
        assert await export_to_anchors(database, anchor, "https://anchor.test/cp", http) == 2
        assert await export_to_anchors(database, anchor, "https://anchor.test/cp", http) == 0
        append(database, [event() for _ in range(3)], checkpointer)
        up = False
        with pytest.raises(RuntimeError):
            await export_to_anchors(database, anchor, "https://anchor.test/cp", http)
        up = True
        assert await export_to_anchors(database, anchor, "https://anchor.test/cp", http) == 1

    public_key = load_public_key(public_key_path(key_file))
    from_file = read_anchor_file(anchor)
    # The failed round appended to the file before the URL refused: seen twice, never lost.
    assert [cp.seq for cp in from_file] == [4, 5, 8, 8]
    assert [Checkpoint.from_dict(cp).seq for cp in posted] == [4, 5, 8]
    assert all(signature_problem(cp, public_key) is None for cp in from_file)
