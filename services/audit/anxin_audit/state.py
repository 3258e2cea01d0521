"""What the audit service holds besides the shared runtime: its checkpoint key and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.settings import AuditSettings
from anxin_shared.errors import DependencyUnavailable


@dataclass
class AuditState:
    """Created at start-up, once the checkpoint key is loaded."""

    settings: AuditSettings
    checkpointer: Checkpointer | None = None

    def signer(self) -> Checkpointer:
        """The checkpoint signer; 503 until the key is loaded."""
        if self.checkpointer is None:
            raise DependencyUnavailable("the audit checkpoint key is not loaded")
        return self.checkpointer


async def get_audit_state(request: Request) -> AuditState:
    """Dependency: the audit service's own state."""
    state: AuditState = request.app.state.audit
    return state


AuditStateDep = Annotated[AuditState, Depends(get_audit_state)]
