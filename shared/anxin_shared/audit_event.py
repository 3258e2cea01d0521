"""The one audit event schema every producer emits and the audit service validates.

Customer references are masked or opaque ids, never raw numbers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anxin_shared.context import current_received, current_request_id, current_trace_id
from anxin_shared.policy import Decision
from anxin_shared.principal import Principal

AUDIT_TOPIC = "audit.event"


class AuditEvent(BaseModel):
    """One operator or system action on customer information, with its decision."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    occurred_at: datetime
    producer: str = Field(max_length=32)
    kind: str = Field(default="decision", max_length=32)
    actor: str = Field(max_length=128)
    actor_kind: str = Field(max_length=16)
    roles: list[str] = Field(default_factory=list, max_length=32)
    actor_subsidiary: str | None = Field(default=None, max_length=32)
    client: str | None = Field(default=None, max_length=128)
    domain: str | None = Field(default=None, max_length=32)
    call_session: str | None = Field(default=None, max_length=64)
    assurance_level: str | None = Field(default=None, max_length=4)
    action: str = Field(max_length=32)
    resource: str = Field(max_length=64)
    customer_ref: str | None = Field(default=None, max_length=64)
    allowed: bool
    decision_id: str | None = Field(default=None, max_length=64)
    matched_rule: str | None = Field(default=None, max_length=512)
    policy_version: str | None = Field(default=None, max_length=64)
    reasons: list[str] = Field(default_factory=list, max_length=16)
    failed_fact: str | None = Field(default=None, max_length=32)
    field_views: dict[str, str] = Field(default_factory=dict)
    unmask_reason: str | None = Field(default=None, max_length=500)
    consent_id: str | None = Field(default=None, max_length=64)
    trace_id: str | None = Field(default=None, max_length=32)
    request_id: str | None = Field(default=None, max_length=64)
    method: str | None = Field(default=None, max_length=10)
    path: str | None = Field(default=None, max_length=512)
    status_code: int | None = None
    # An attestation (kind "attestation"): the SHA-256 of a signed document, such as a
    # compliance report, and the key that signed it. The document itself stays outside.
    document_kind: str | None = Field(default=None, max_length=32, pattern=r"^[a-z_]+$")
    document_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    document_key_id: str | None = Field(default=None, max_length=64)


def decision_event(
    producer: str,
    principal: Principal,
    decision: Decision | None,
    *,
    action: str,
    resource: str,
    allowed: bool | None = None,
    customer_ref: str | None = None,
    call_session: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An audit event (as a JSON-ready dict) for a decision taken by `producer`.

    Inside a request, `method` and `path` default to the request as this process
    received it (raw path, no query), so a service's event names the path it served.
    """
    received = current_received()
    if received is not None:
        extra.setdefault("method", received[0])
        extra.setdefault("path", received[1])
    event = AuditEvent(
        event_id=uuid.uuid4().hex,
        occurred_at=datetime.now(UTC),
        producer=producer,
        actor=principal.subject,
        actor_kind=principal.kind,
        roles=list(principal.roles),
        actor_subsidiary=principal.subsidiary or None,
        client=principal.subject if principal.kind == "client" else None,
        domain=decision.domain if decision else None,
        call_session=call_session or principal.call_session,
        assurance_level=decision.assurance_level if decision else principal.assurance_level,
        action=action,
        resource=resource,
        customer_ref=customer_ref,
        allowed=decision.allowed if allowed is None and decision else bool(allowed),
        decision_id=decision.decision_id if decision else None,
        matched_rule=decision.matched_rule if decision else None,
        policy_version=decision.policy_version if decision else None,
        reasons=list(decision.reasons) if decision else [],
        failed_fact=decision.failed_fact if decision else None,
        field_views=dict(decision.field_views) if decision else {},
        trace_id=current_trace_id(),
        request_id=principal.request_id or current_request_id(),
        **extra,
    )
    return event.model_dump(mode="json")
