"""The export format: a chain copy kept outside the database, and its offline verification.

JSON lines: a header (format, where the copy starts: genesis or an archive's
signed checkpoint), then records `{"type": "record", seq, prev_hash, hash,
body}` and checkpoints `{"type": "checkpoint", ...}` in sequence order.
Archives use the same format. Pure: `anxin audit verify --export` runs this
without the service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from anxin_audit.checkpoints.signing import Checkpoint
from anxin_audit.events.chain import ChainReport, ChainVerifier, Row

FORMAT = "anxin-audit-export/1"


def header_line(start: Checkpoint | None) -> str:
    """The first line of an export."""
    return _dump({"type": "header", "format": FORMAT, "start": start.as_dict() if start else None})


def record_line(seq: int, prev_hash: str, hash_: str, body: str) -> str:
    """One record line."""
    return _dump(
        {"type": "record", "seq": seq, "prev_hash": prev_hash, "hash": hash_, "body": body}
    )


def checkpoint_line(checkpoint: Checkpoint) -> str:
    """One checkpoint line."""
    return _dump({"type": "checkpoint", **checkpoint.as_dict()})


def _dump(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_export(
    handle: IO[str],
    start: Checkpoint | None,
    rows: Iterable[Row],
    checkpoints: Iterable[Checkpoint],
) -> int:
    """Write an export; returns how many records went into it."""
    handle.write(header_line(start) + "\n")
    for checkpoint in checkpoints:
        handle.write(checkpoint_line(checkpoint) + "\n")
    count = 0
    for seq, prev_hash, hash_, body in rows:
        handle.write(record_line(seq, prev_hash, hash_, body) + "\n")
        count += 1
    return count


class ExportError(ValueError):
    """The file is not an export."""


def read_export(path: Path) -> tuple[Checkpoint | None, list[Checkpoint], Iterator[Row]]:
    """The start anchor, the checkpoints and an iterator over the records of an export."""
    start: Checkpoint | None = None
    checkpoints: list[Checkpoint] = []
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
        try:
            header = json.loads(first)
        except json.JSONDecodeError as exc:
            raise ExportError("the file does not start with an export header") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ExportError("the file does not start with an export header")
        if header.get("start"):
            start = Checkpoint.from_dict(header["start"])
        for line in handle:
            if "checkpoint" in line:
                item = json.loads(line)
                if item.get("type") == "checkpoint":
                    item.pop("type")
                    checkpoints.append(Checkpoint.from_dict(item))

    def rows() -> Iterator[Row]:
        with path.open(encoding="utf-8") as handle:
            handle.readline()
            for line in handle:
                item = json.loads(line)
                if item.get("type") != "record":
                    continue
                yield (
                    int(item["seq"]),
                    str(item["prev_hash"]),
                    str(item["hash"]),
                    str(item["body"]),
                )

    return start, checkpoints, rows()


def verify_export(
    path: Path,
    public_key: Ed25519PublicKey,
    anchors: Iterable[Checkpoint] = (),
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 20_000,
) -> ChainReport:
    """Verify an export offline, against its own checkpoints and any external anchors."""
    start, checkpoints, rows = read_export(path)
    verifier = ChainVerifier(
        public_key=public_key, checkpoints=[*checkpoints, *anchors], start=start
    )
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            if not verifier.feed(batch):
                return verifier.finish()
            batch = []
            if on_progress is not None:
                on_progress(verifier.records)
    verifier.feed(batch)
    if on_progress is not None:
        on_progress(verifier.records)
    return verifier.finish()
