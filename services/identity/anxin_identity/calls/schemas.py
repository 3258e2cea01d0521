"""What the call-session API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["inbound", "outbound"]
Channel = Literal["voice", "video", "ivr"]
Attestation = Literal["A", "B", "C"]
CallStatus = Literal["open", "closed", "expired"]

# A Chinese mobile number (optionally with the +86 / 0086 / 86 country prefix) or a
# landline in domestic form: area code 0XX/0XXX, an optional dash, 7-8 digits.
ANI_PATTERN = (
    r"^(?:(?:\+|00)?86)?1[3-9][0-9]{9}$"
    r"|^0[1-9][0-9]{1,2}-?[2-9][0-9]{6,7}$"
)


CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class CallSessionCreate(BaseModel):
    """Open a call session. Only these fields: level, status and owner are the server's."""

    model_config = ConfigDict(extra="forbid")

    ani: str = Field(max_length=20, pattern=ANI_PATTERN, repr=False)
    channel: Channel
    # The telephony's STIR/SHAKEN attestation; None when the call arrived without one.
    attestation: Attestation | None
    direction: Direction = "inbound"
    # An identifier the caller gives (their customer id), when the ANI does not name them.
    customer_id: str | None = Field(default=None, pattern=CUSTOMER_ID_PATTERN)
    # A device or app-session id the telephony/app reports (matched against known devices).
    device_id: str | None = Field(default=None, min_length=1, max_length=128, repr=False)


class FactorStatus(BaseModel):
    """Where one verification factor stands in a session."""

    factor: str
    satisfied: bool
    successes: int
    required: int
    failures: int
    locked: bool
    locked_until: datetime | None = None


class RiskReason(BaseModel):
    """One risk signal, with the reason shown to the agent."""

    signal: str
    weight: int
    reason_zh: str


class CallSessionPublic(BaseModel):
    """A call session as its agent sees it: the number masked, never raw."""

    id: str
    direction: Direction
    channel: Channel
    attestation: Attestation | None
    ani_masked: str
    status: CallStatus
    assurance_level: str
    customer_id: str | None = None
    link_source: str | None = None
    candidate_count: int = 0
    factors: list[FactorStatus] = []
    risk_score: int = 0
    risk_reasons: list[RiskReason] = []
    version: int
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None
    decision_id: str | None = None
    policy_version: str | None = None


class CustomerLink(BaseModel):
    """The customer the caller says they are (an identifier they give)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)


class KnowledgeQuestionPublic(BaseModel):
    """A question the agent reads to the caller (never its answer)."""

    question_id: str
    prompt_zh: str


class KnowledgeQuestionList(BaseModel):
    """The linked customer's questions."""

    questions: list[KnowledgeQuestionPublic]


class KnowledgeAnswer(BaseModel):
    """The caller's answer as the agent typed it; the server normalizes and compares."""

    model_config = ConfigDict(extra="forbid")

    question_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    answer: str = Field(max_length=128, repr=False)


class FactorResult(BaseModel):
    """The outcome of one factor attempt and the session after it."""

    factor: str
    correct: bool
    session: CallSessionPublic


class CodeSent(BaseModel):
    """A one-time code was queued for the registered mobile (the code is never returned)."""

    code_id: str
    expires_at: datetime
    session: CallSessionPublic


class CodeEntry(BaseModel):
    """The code the caller reads back."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6,8}$", repr=False)


class SessionResolve(BaseModel):
    """The gateway asks: may this agent's request use this call session?"""

    model_config = ConfigDict(extra="forbid")

    call_session: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    subject: str = Field(min_length=1, max_length=128)
    subsidiary: str = Field(max_length=16)
    roles: list[str] = Field(default_factory=list, max_length=32)
    known_version: int | None = None


class SessionResolution(BaseModel):
    """Identity's answer; `reason` is ok, unchanged, no_access, expired or closed."""

    usable: bool
    reason: Literal["ok", "unchanged", "no_access", "expired", "closed"]
    call_session: str
    version: int | None = None
    assurance_level: str = "L0"
    verified_customer: str | None = None
    expires_at: datetime | None = None
    decision_id: str
    # The newest call-session change this answer already reflects (see `SessionChanges`),
    # and the rules it was decided under: the gateway's lease on it ends when either moves.
    change_seq: int | None = None
    fingerprint: str | None = None


class SessionChanges(BaseModel):
    """For the gateway's leases: the call sessions changed after `after`, in order.

    `seq` is the newest change read; `fingerprint` moves whenever the rules that set
    levels do (the access policy or the assurance policy), so every lease is dropped.
    Recent changes are sent again on each read; `complete` is false when there were
    more than one answer holds (then the gateway drops every lease)."""

    seq: int
    changes: list[tuple[int, str]]
    complete: bool
    fingerprint: str
