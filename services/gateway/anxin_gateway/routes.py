"""The declared route table: every public path, what it touches, who decides.

The gateway forwards nothing that is not in this table. Each entry names
the owning service, the catalogued resource and action the policy decides on,
and the assurance level the call session must at least have reached. Path
parameters match a conservative id alphabet only; matching is exact and
case-sensitive (no trailing-slash or case folding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anxin_shared.errors import MethodNotAllowed, NotFound
from anxin_shared.principal import ASSURANCE_LEVELS

_PARAM = re.compile(r"\{([a-z_]+)\}")
_ID_ALPHABET = r"[A-Za-z0-9_-]{1,64}"


@dataclass(frozen=True)
class RouteSpec:
    """One public operation."""

    method: str
    path: str
    service: str
    resource: str
    action: str
    min_assurance: str = "L0"
    summary: str = ""

    def __post_init__(self) -> None:
        if self.min_assurance not in ASSURANCE_LEVELS:
            raise ValueError(f"unknown assurance level {self.min_assurance}")

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled matcher for this path template."""
        return re.compile("^" + _PARAM.sub(f"(?P<\\1>{_ID_ALPHABET})", self.path) + "$")


# One table per owning service, so each service's routes are read (and edited) together.
GATEWAY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/policy/version",
        "gateway",
        "policy.version",
        "read",
        summary="The policy version this gateway enforces",
    ),
    RouteSpec(
        "POST",
        "/api/v1/policy/explain",
        "gateway",
        "policy.explain",
        "read",
        summary="Decide one request on the live policy and show the rules that match",
    ),
    RouteSpec(
        "POST",
        "/api/v1/policy/diff",
        "gateway",
        "policy.diff",
        "read",
        summary="The decisions a candidate policy.csv would flip against the live policy",
    ),
    RouteSpec(
        "GET",
        "/api/v1/policy/status",
        "gateway",
        "policy.status",
        "read",
        summary="The live policy version per service and replica, and shadow-mode counters",
    ),
    RouteSpec(
        "GET",
        "/api/v1/policy/checks",
        "gateway",
        "policy.checks",
        "read",
        summary="Lint and decision-case results and rule coverage of the policy folder",
    ),
)

IDENTITY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "POST",
        "/api/v1/calls",
        "identity",
        "call.session",
        "create",
        summary="Open a call session for an inbound or outbound call",
    ),
    RouteSpec(
        "GET",
        "/api/v1/calls/{session_id}",
        "identity",
        "call.session",
        "read",
        summary="Read one of your call sessions",
    ),
    RouteSpec(
        "PUT",
        "/api/v1/calls/{session_id}/customer",
        "identity",
        "call.session",
        "update",
        summary="Link the customer the caller identifies as to your call session",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/close",
        "identity",
        "call.session",
        "update",
        summary="Close your call session",
    ),
    RouteSpec(
        "GET",
        "/api/v1/calls/{session_id}/knowledge-questions",
        "identity",
        "call.session",
        "verify",
        summary="Knowledge questions to ask the caller (never the answers)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/knowledge-answers",
        "identity",
        "call.session",
        "verify",
        summary="Submit the caller's answer; the server compares it",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/codes",
        "identity",
        "call.session",
        "verify",
        summary="Send a one-time code by SMS to the caller's registered mobile",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/codes/verify",
        "identity",
        "call.session",
        "verify",
        summary="Check the one-time code the caller reads back",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/voiceprint/enrollment",
        "identity",
        "customer.voiceprint",
        "create",
        summary="Enroll the session's customer's voiceprint (biometric consent required)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/calls/{session_id}/voiceprint/verification",
        "identity",
        "customer.voiceprint",
        "verify",
        summary="Verify the caller's voice against the voiceprint and the fraud watchlist",
    ),
    RouteSpec(
        "GET",
        "/api/v1/voiceprint-watchlist",
        "identity",
        "fraud.watchlist",
        "read",
        summary="List the fraud voiceprint watchlist",
    ),
    RouteSpec(
        "POST",
        "/api/v1/voiceprint-watchlist",
        "identity",
        "fraud.watchlist",
        "create",
        summary="Add a known fraudster's voice to the watchlist",
    ),
    RouteSpec(
        "DELETE",
        "/api/v1/voiceprint-watchlist/{entry_id}",
        "identity",
        "fraud.watchlist",
        "delete",
        summary="Remove an entry from the fraud voiceprint watchlist",
    ),
)

CONSENT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/consent/notices",
        "consent",
        "consent.notice",
        "read",
        summary="List published consent notices",
    ),
    RouteSpec(
        "POST",
        "/api/v1/consent/notices",
        "consent",
        "consent.notice",
        "create",
        summary="Draft a new consent-notice version",
    ),
    RouteSpec(
        "GET",
        "/api/v1/consent/notices/{notice_key}/versions/{version}",
        "consent",
        "consent.notice",
        "read",
        summary="Read one consent-notice version",
    ),
    RouteSpec(
        "POST",
        "/api/v1/consent/notices/{notice_key}/versions/{version}/publish",
        "consent",
        "consent.notice",
        "publish",
        summary="Publish a draft notice version",
    ),
    RouteSpec(
        "POST",
        "/api/v1/consent/notices/{notice_key}/versions/{version}/retire",
        "consent",
        "consent.notice",
        "retire",
        summary="Retire a published notice version",
    ),
    RouteSpec(
        "POST",
        "/api/v1/consent/records",
        "consent",
        "consent.record",
        "create",
        summary="Record a customer's consent (on a verified call, or from a collecting system)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/consent/withdrawals",
        "consent",
        "consent.record",
        "withdraw",
        summary="Withdraw a consent; effective when the call returns",
    ),
    RouteSpec(
        "GET",
        "/api/v1/consent/customers/{customer_id}/consents",
        "consent",
        "consent.record",
        "read",
        summary="What holds now for each of a customer's consent scopes",
    ),
    RouteSpec(
        "GET",
        "/api/v1/consent/customers/{customer_id}/export",
        "consent",
        "consent.record",
        "export",
        summary="The customer's copy of their consent history (JSON or CSV)",
    ),
)

PROFILE_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/customers",
        "profile",
        "customer.profile",
        "read",
        summary="List customers of your subsidiary, masked",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}",
        "profile",
        "customer.profile",
        "read",
        summary="Read a customer's profile, masked by policy",
    ),
    RouteSpec(
        "POST",
        "/api/v1/customers",
        "profile",
        "customer.profile",
        "create",
        summary="Create a customer; 422 lists every bad field",
    ),
    RouteSpec(
        "PATCH",
        "/api/v1/customers/{customer_id}",
        "profile",
        "customer.profile",
        "update",
        summary="Change a customer (validated at the source)",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}/portrait",
        "profile",
        "customer.portrait",
        "read",
        summary="The portrait of the customer in your call",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}/household",
        "profile",
        "customer.household",
        "read",
        summary="The household view of the customer in your call",
    ),
    RouteSpec(
        "POST",
        "/api/v1/customers/{customer_id}/notes",
        "profile",
        "customer.portrait",
        "create",
        summary="Record an interaction note",
    ),
    RouteSpec(
        "POST",
        "/api/v1/customers/{customer_id}/unmask",
        "profile",
        "customer.profile",
        "unmask",
        summary="Show fields plain with a reason (audited)",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}/export",
        "profile",
        "customer.profile",
        "export",
        summary="A copy of the customer's data (PIPL)",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}/rights-requests",
        "profile",
        "customer.rights",
        "read",
        summary="The customer's PIPL requests",
    ),
    RouteSpec(
        "POST",
        "/api/v1/customers/{customer_id}/corrections",
        "profile",
        "customer.rights",
        "create",
        summary="File a correction request (PIPL)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/customers/{customer_id}/deletion",
        "profile",
        "customer.rights",
        "create",
        summary="A deletion request honouring legal retention (PIPL)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/rights-requests/{request_id}/decision",
        "profile",
        "customer.rights",
        "update",
        summary="Approve or reject a correction request",
    ),
    RouteSpec(
        "POST",
        "/api/v1/outbound/call-lists",
        "profile",
        "customer.outbound",
        "create",
        summary="A campaign call list with masked numbers and dial references",
    ),
    RouteSpec(
        "POST",
        "/api/v1/dial-references/{dial_ref}/resolve",
        "profile",
        "customer.dial_reference",
        "read",
        summary="Resolve a single-use dial reference (telephony only)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/quality/screenings",
        "profile",
        "customer.quality",
        "create",
        summary="Start a data-quality screening run",
    ),
    RouteSpec(
        "GET",
        "/api/v1/quality/screenings/{run_id}",
        "profile",
        "customer.quality",
        "read",
        summary="A screening run's progress",
    ),
    RouteSpec(
        "POST",
        "/api/v1/quality/screenings/{run_id}/resume",
        "profile",
        "customer.quality",
        "create",
        summary="Resume a paused screening run",
    ),
    RouteSpec(
        "GET",
        "/api/v1/quality/issues",
        "profile",
        "customer.quality",
        "read",
        summary="Data-quality issues with owners and deadlines",
    ),
    RouteSpec(
        "POST",
        "/api/v1/quality/enforcement",
        "profile",
        "customer.quality",
        "update",
        summary="Suspend past-deadline records and hold commission",
    ),
    RouteSpec(
        "GET",
        "/api/v1/quality/commission-holds",
        "profile",
        "customer.quality",
        "read",
        summary="Commissions held for overdue data-quality issues",
    ),
    RouteSpec(
        "GET",
        "/api/v1/quality/reports",
        "profile",
        "customer.quality",
        "read",
        summary="Data-quality report by subsidiary (JSON or CSV)",
    ),
    RouteSpec(
        "GET",
        "/api/v1/shared/customers/{customer_id}",
        "profile",
        "customer.sharing",
        "read",
        summary="Gated sharing: a customer's data for a declared purpose",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}/security-reminder",
        "profile",
        "customer.security_reminder",
        "read",
        min_assurance="L2",
        summary="The security reminder for the verified caller, by segment",
    ),
    RouteSpec(
        "GET",
        "/api/v1/outreach/templates",
        "profile",
        "outreach.template",
        "read",
        summary="Security-education and fraud-alert message templates",
    ),
    RouteSpec(
        "POST",
        "/api/v1/outreach/templates",
        "profile",
        "outreach.template",
        "create",
        summary="Create a message template (declared, known variables; no unmasked numbers)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/outreach/campaigns",
        "profile",
        "outreach.campaign",
        "create",
        summary="Send a template to a segment's opted-in customers, now or scheduled",
    ),
    RouteSpec(
        "GET",
        "/api/v1/outreach/campaigns",
        "profile",
        "outreach.campaign",
        "list",
        summary="Campaigns with their delivery counts",
    ),
    RouteSpec(
        "GET",
        "/api/v1/outreach/campaigns/{campaign_id}",
        "profile",
        "outreach.campaign",
        "read",
        summary="One campaign with its delivery counts",
    ),
    RouteSpec(
        "GET",
        "/api/v1/outreach/messages",
        "profile",
        "outreach.message",
        "read",
        summary="Outreach messages of a campaign or customer, with delivery status",
    ),
    RouteSpec(
        "GET",
        "/api/v1/outreach/customers/{customer_id}/opt-outs",
        "profile",
        "outreach.optout",
        "read",
        summary="A customer's outreach opt-outs",
    ),
    RouteSpec(
        "PUT",
        "/api/v1/outreach/customers/{customer_id}/opt-outs/{purpose}",
        "profile",
        "outreach.optout",
        "create",
        summary="Opt a customer out of one outreach purpose",
    ),
    RouteSpec(
        "DELETE",
        "/api/v1/outreach/customers/{customer_id}/opt-outs/{purpose}",
        "profile",
        "outreach.optout",
        "delete",
        summary="Withdraw a customer's opt-out of one purpose",
    ),
)

AUDIT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/audit/events",
        "audit",
        "audit.event",
        "read",
        summary="Query the audit trail",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/chain/verify",
        "audit",
        "audit.event",
        "verify",
        summary="Verify the audit hash chain",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/customers/{customer_id}/accesses",
        "audit",
        "audit.event",
        "read",
        summary="Who accessed this customer's data",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/chain/verify",
        "audit",
        "audit.event",
        "verify",
        summary="Verify the audit chain against external checkpoints",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/chain/export",
        "audit",
        "audit.event",
        "export",
        summary="Export a page of the audit chain with its checkpoints",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/checkpoints",
        "audit",
        "audit.checkpoint",
        "read",
        summary="The newest signed checkpoints and their public key",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/checkpoints",
        "audit",
        "audit.checkpoint",
        "create",
        summary="Sign a checkpoint of the chain head now",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/attestations",
        "audit",
        "audit.attestation",
        "create",
        summary="Record a signed document's hash (a compliance report) on the chain",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/alerts",
        "audit",
        "audit.alert",
        "read",
        summary="List anomaly alerts",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/alerts/{alert_id}",
        "audit",
        "audit.alert",
        "read",
        summary="Read one anomaly alert with its evidence",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/alerts/{alert_id}/acknowledge",
        "audit",
        "audit.alert",
        "update",
        summary="Acknowledge an alert",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/alerts/{alert_id}/escalate",
        "audit",
        "audit.alert",
        "update",
        summary="Escalate an alert one level",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/inspections",
        "audit",
        "audit.ledger",
        "create",
        summary="Open an internal-audit inspection",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/inspections",
        "audit",
        "audit.ledger",
        "read",
        summary="List inspections",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/inspections/{inspection_id}",
        "audit",
        "audit.ledger",
        "read",
        summary="Read an inspection with its findings",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/inspections/{inspection_id}/findings",
        "audit",
        "audit.ledger",
        "create",
        summary="Record a finding resting on audit events",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/findings/{finding_id}",
        "audit",
        "audit.ledger",
        "read",
        summary="Read a finding, its evidence verified",
    ),
    RouteSpec(
        "PATCH",
        "/api/v1/audit/findings/{finding_id}",
        "audit",
        "audit.ledger",
        "update",
        summary="Update a finding's status or deadline",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/reports/overdue-findings",
        "audit",
        "audit.ledger",
        "read",
        summary="Overdue findings for management (JSON or CSV)",
    ),
    RouteSpec(
        "POST",
        "/api/v1/audit/retention/archive",
        "audit",
        "audit.archive",
        "create",
        summary="Archive records past the retention period",
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    GATEWAY_ROUTES + IDENTITY_ROUTES + CONSENT_ROUTES + PROFILE_ROUTES + AUDIT_ROUTES
)


@dataclass(frozen=True)
class RouteMatch:
    """A request matched to its declared route."""

    route: RouteSpec
    params: dict[str, str]


class RouteTable:
    """Looks up (method, path) in the declared routes: 404 or 405 otherwise."""

    def __init__(self, routes: tuple[RouteSpec, ...] = ROUTES) -> None:
        self.routes = routes
        self._compiled = [(route, route.pattern) for route in routes]

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for this request, or raise NotFound / MethodNotAllowed."""
        allowed: list[str] = []
        for route, pattern in self._compiled:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return RouteMatch(route, found.groupdict())
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(allowed)
        raise NotFound("no such route")
