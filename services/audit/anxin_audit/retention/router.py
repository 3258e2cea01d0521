"""Retention route: archive the records past the retention period (security staff)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from anxin_audit.events.service import authorize
from anxin_audit.retention import service
from anxin_audit.retention.schemas import ArchivePublic
from anxin_audit.state import AuditStateDep
from anxin_shared.deps import PrincipalDep, RuntimeDep

router = APIRouter(prefix="/api/v1/audit/retention", tags=["retention"])


@router.post("/archive", response_model=ArchivePublic, status_code=201)
async def archive_expired(
    principal: PrincipalDep, runtime: RuntimeDep, audit: AuditStateDep
) -> ArchivePublic:
    """Archive every record older than the retention period, with a signed checkpoint."""
    await asyncio.to_thread(
        authorize, runtime, audit, principal, "audit.archive", "create", "group"
    )
    return await asyncio.to_thread(
        service.archive_expired, runtime.database, audit.settings, audit.signer()
    )
