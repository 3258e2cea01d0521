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


class CallSessionCreate(BaseModel):
    """Open a call session. Only these fields: level, status and owner are the server's."""

    model_config = ConfigDict(extra="forbid")

    ani: str = Field(max_length=20, pattern=ANI_PATTERN, repr=False)
    channel: Channel
    attestation: Attestation
    direction: Direction = "inbound"


class CallSessionPublic(BaseModel):
    """A call session as its agent sees it: the number masked, never raw."""

    id: str
    direction: Direction
    channel: Channel
    attestation: Attestation
    ani_masked: str
    status: CallStatus
    assurance_level: str
    created_at: datetime
    expires_at: datetime
    decision_id: str
    policy_version: str
