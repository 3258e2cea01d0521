"""The internal verification API identity consumes (and consent's existence check)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NumberMatchRequest(BaseModel):
    """A calling number (E.164 or national)."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=3, max_length=32)


class DeviceMatchRequest(BaseModel):
    """A device id or app account."""

    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=128)


class ContactMatch(BaseModel):
    """A customer a contact point belongs to."""

    customer_id: str
    subsidiary: str
    channel: str
    first_seen: datetime


class MatchResult(BaseModel):
    """Every customer the contact point matches."""

    matches: list[ContactMatch]


class KnowledgeQuestion(BaseModel):
    """A question to ask the caller (never with its answer)."""

    question_id: str
    prompt_zh: str


class KnowledgeQuestions(BaseModel):
    """The questions this customer's data can answer."""

    questions: list[KnowledgeQuestion]


class KnowledgeCheckRequest(BaseModel):
    """The caller's answer to one question."""

    model_config = ConfigDict(extra="forbid")
    question_id: str = Field(min_length=1, max_length=32)
    answer: str = Field(min_length=0, max_length=128)


class KnowledgeCheckResult(BaseModel):
    """Whether the answer was right (the expected answer is never returned)."""

    correct: bool


class OtpDestination(BaseModel):
    """Where a one-time code goes (for the SMS adapter only)."""

    mobile: str


class CustomerExists(BaseModel):
    """Whether a customer id exists, and its subsidiary."""

    exists: bool
    subsidiary: str | None
