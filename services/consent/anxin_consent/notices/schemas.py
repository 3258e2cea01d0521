"""What the consent-notice API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

NoticeStatus = Literal["draft", "published", "retired"]
# A field classification of policies/fields.yaml, e.g. `spi.biometric.voiceprint`.
Classification = Annotated[str, Field(pattern=r"^(?:pi|spi)(?:\.[a-z_]+){1,3}$", max_length=64)]
Subsidiary = Literal["group", "life", "pc", "bank"]


class ConsentNoticeCreate(BaseModel):
    """A new notice version, as security or legal staff write it."""

    model_config = ConfigDict(extra="forbid")

    notice_key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    version: int = Field(ge=1)
    purpose: str = Field(min_length=1, max_length=500)
    categories: list[Classification] = Field(min_length=1, max_length=32)
    recipients: list[Subsidiary] = Field(min_length=1, max_length=4)
    retention_days: int = Field(ge=1, le=36_500)
    text_zh: str = Field(min_length=20, max_length=20_000)


class ConsentNoticePublic(BaseModel):
    """A notice as anyone allowed to read notices sees it."""

    id: int
    notice_key: str
    version: int
    purpose: str
    categories: list[str]
    recipients: list[str]
    retention_days: int
    text_zh: str
    text_hash: str
    status: NoticeStatus
    published_at: datetime | None


class ConsentNoticePage(BaseModel):
    """A page of published notices, with the decision that allowed it."""

    items: list[ConsentNoticePublic]
    total: int
    limit: int
    offset: int
    decision_id: str
    policy_version: str
