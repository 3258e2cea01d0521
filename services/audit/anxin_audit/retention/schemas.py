"""Retention API schemas."""

from __future__ import annotations

from pydantic import BaseModel


class ArchivePublic(BaseModel):
    """An archive: which records went where, and the checkpoint the chain now starts from."""

    archive_no: int
    from_seq: int
    through_seq: int
    records: int
    location: str
    sha256: str
    checkpoint_no: int
    head_hash: str
