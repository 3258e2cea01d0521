"""Signed checkpoints of the chain (append-only, like the records)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from anxin_audit.checkpoints.signing import Checkpoint


class AuditCheckpoint(SQLModel, table=True):
    """One signed statement of the chain head."""

    __tablename__ = "audit_checkpoint"

    checkpoint_no: int = Field(primary_key=True)
    partition: str = Field(max_length=32)
    seq: int = Field(index=True)
    head_hash: str = Field(max_length=64)
    taken_at: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    key_id: str = Field(max_length=32)
    signature: str = Field(max_length=128)

    def as_checkpoint(self) -> Checkpoint:
        """The pure value the verifier checks."""
        return Checkpoint(
            checkpoint_no=self.checkpoint_no,
            partition=self.partition,
            seq=self.seq,
            head_hash=self.head_hash,
            taken_at=self.taken_at,
            kind=self.kind,
            key_id=self.key_id,
            signature=self.signature,
        )
