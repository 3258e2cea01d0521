"""The one audit event schema every producer emits and the audit service validates.

Customer references are masked or opaque ids, never raw numbers.

The audit service hashes an event's JSON into its chain. A field added later
that leaves a key in every event's JSON would change the encoding of events
that never use it, so the fields in `OMITTED_WHEN_UNSET` are left out of the
JSON while they are None: an event without them encodes, and hashes, exactly
as it did before they existed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from anxin_shared.context import current_received, current_request_id, current_trace_id
from anxin_shared.masking import mask_free_text
from anxin_shared.policy import Decision
from anxin_shared.principal import Principal

AUDIT_TOPIC = "audit.event"
OUTREACH_MESSAGE_KIND = "outreach.message"
OMITTED_WHEN_UNSET = frozenset(
    {
        "message_id",
        "message_purpose",
        "message_channel",
        "message_template",
        "message_variables",
        "campaign_id",
        "fraud_signal_id",
        "delivery_status",
        "delivery_reason",
    }
)
MAX_MESSAGE_VARIABLES = 16

Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Word = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z_]*$")]
VariableValue = Annotated[str, StringConstraints(max_length=200)]
DeliveryStatus = Literal["queued", "sent", "failed", "suppressed"]


class AuditEvent(BaseModel):
    """One operator or system action on customer information, with its decision."""

    # A refused event's error (which may be logged) never quotes the values it refused.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

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
    # An outreach message (kind "outreach.message"): its content as a template id and the
    # template's variables (system-filled, masked: never a rendered text or a number in the
    # clear), the campaign or fraud signal that caused it, and its delivery status when the
    # event was written ("queued" when handed to the sender, else why it was held or failed).
    message_id: Reference | None = None
    message_purpose: Word | None = None
    message_channel: Word | None = None
    message_template: Reference | None = None
    message_variables: dict[Word, VariableValue] | None = Field(
        default=None, max_length=MAX_MESSAGE_VARIABLES
    )
    campaign_id: Reference | None = None
    fraud_signal_id: Reference | None = None
    delivery_status: DeliveryStatus | None = None
    delivery_reason: Word | None = None

    @field_validator("message_variables")
    @classmethod
    def _variables_hold_no_number(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Refuse a variable holding a mobile, ID or card number in the clear."""
        for name, text in (value or {}).items():
            if mask_free_text(text) != text:
                raise ValueError(f"variable {name!r} holds an unmasked number")
        return value

    def as_json(self) -> dict[str, Any]:
        """The event as JSON values, as it is sent and hashed (unset later fields left out)."""
        unset = {name for name in OMITTED_WHEN_UNSET if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=unset)


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
    return event.as_json()


def outreach_message_event(
    producer: str,
    principal: Principal,
    *,
    message_id: str,
    purpose: str,
    channel: str,
    template: str,
    variables: dict[str, str],
    status: str,
    reason: str | None,
    customer_ref: str,
    campaign_id: str | None = None,
    fraud_signal_id: str | None = None,
    allowed: bool,
    resource: str = "outreach.message",
) -> dict[str, Any]:
    """An audit event (as a JSON-ready dict) for one outreach message and its status.

    The message's content is its template id and variables, never a rendered
    text; a variable holding an unmasked number is refused (`ValidationError`).
    `reasons` stays empty: the step is the system's own, not a policy decision.
    """
    return decision_event(
        producer,
        principal,
        None,
        action="send",
        resource=resource,
        allowed=allowed,
        customer_ref=customer_ref,
        kind=OUTREACH_MESSAGE_KIND,
        message_id=message_id,
        message_purpose=purpose,
        message_channel=channel,
        message_template=template,
        message_variables=variables,
        campaign_id=campaign_id,
        fraud_signal_id=fraud_signal_id,
        delivery_status=status,
        delivery_reason=reason,
    )
