"""Policy version changes and refused reloads, as audit events from the service that saw them.

`PolicyEngine.on_change(old, new, error)` is called from the reload worker
thread (never on the event loop); this hook writes one audit event into the
service's own outbox, in its own transaction, so every replica's swap and every
refusal is in the tamper-evident trail.
"""

from __future__ import annotations

import logging
import uuid

from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.db import Database
from anxin_shared.outbox import enqueue
from anxin_shared.policy import ChangeHook, Decision
from anxin_shared.principal import Principal

logger = logging.getLogger("anxin.policy")

VERSION_CHANGED = "policy.version_changed"
RELOAD_REFUSED = "policy.reload_refused"
MAX_REASON = 400


def policy_change_event(
    service: str, old: str | None, new: str | None, error: str | None
) -> dict[str, object]:
    """The audit event (JSON-ready) for a swap (`error` None) or a refusal."""
    principal = Principal(subject=f"service:{service}", kind="service", subsidiary="group")
    if error is None:
        reasons: tuple[str, ...] = (f"policy version {old or 'none'} -> {new}",)
        in_force = new
    else:
        reasons = (
            f"refused policy {new or 'unreadable'}, keeping {old or 'none'}",
            error[:MAX_REASON],
        )
        in_force = old
    decision = Decision(
        decision_id=uuid.uuid4().hex,
        allowed=error is None,
        subject=principal.subject,
        domain="group",
        resource="policy.version",
        action="reload",
        assurance_level="L0",
        policy_version=in_force or "none",
        matched_rule=None,
        reasons=reasons,
        failed_fact=None if error is None else "policy",
    )
    return decision_event(
        service,
        principal,
        decision,
        action="reload",
        resource="policy.version",
        kind=VERSION_CHANGED if error is None else RELOAD_REFUSED,
    )


def audit_policy_changes(database: Database, service: str) -> ChangeHook:
    """An `on_change` hook that enqueues the audit event in the service's outbox."""

    def hook(old: str | None, new: str | None, error: str | None) -> None:
        event = policy_change_event(service, old, new, error)
        with database.session() as session:
            enqueue(session, AUDIT_TOPIC, event)
        logger.info("audited %s (%s -> %s)", event["kind"], old, new)

    return hook
