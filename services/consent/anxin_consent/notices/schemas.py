"""What the consent-notice API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NoticeStatus = Literal["draft", "published", "retired"]
# A field classification of policies/fields.yaml, e.g. `spi.biometric.voiceprint`.
Classification = Annotated[str, Field(pattern=r"^(?:pi|spi)(?:\.[a-z_]+){1,3}$", max_length=64)]
Subsidiary = Literal["group", "life", "pc", "bank"]
# What the data is processed for, as consent checks name it (e.g. `identity_verification`).
PurposeCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
NoticeKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
BIOMETRIC_PREFIX = "spi.biometric."


def is_biometric(category: str) -> bool:
    """Biometric data (PIPL Art. 28/29): each needs its own separate consent."""
    return category.startswith(BIOMETRIC_PREFIX)


class ConsentNoticeCreate(BaseModel):
    """A new notice version, as security or legal staff write it.

    A notice covering a biometric category is a separate-consent notice for that
    one category alone: a bundle never carries a biometric consent.
    """

    model_config = ConfigDict(extra="forbid")

    notice_key: NoticeKey
    version: int = Field(ge=1, le=1_000_000)
    purpose: str = Field(min_length=1, max_length=500)
    purpose_code: PurposeCode
    separate_consent: bool = False
    categories: list[Classification] = Field(min_length=1, max_length=32)
    recipients: list[Subsidiary] = Field(min_length=1, max_length=4)
    retention_days: int = Field(ge=1, le=36_500)
    text_zh: str = Field(min_length=20, max_length=20_000)

    @model_validator(mode="after")
    def _biometrics_stand_alone(self) -> ConsentNoticeCreate:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must not repeat")
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError("recipients must not repeat")
        if any(is_biometric(c) for c in self.categories) and (
            len(self.categories) != 1 or not self.separate_consent
        ):
            raise ValueError(
                "a biometric category needs a separate-consent notice covering it alone"
            )
        return self


class ConsentNoticePublic(BaseModel):
    """A notice as anyone allowed to read notices sees it."""

    id: int
    notice_key: str
    version: int
    purpose: str
    purpose_code: str
    separate_consent: bool
    categories: list[str]
    recipients: list[str]
    retention_days: int
    text_zh: str
    text_hash: str
    status: NoticeStatus
    published_at: datetime | None
    retired_at: datetime | None = None


class ConsentNoticeChange(BaseModel):
    """A notice after a lifecycle step, with the decision that allowed it."""

    notice: ConsentNoticePublic
    decision_id: str
    policy_version: str


class ConsentNoticePage(BaseModel):
    """A page of published notices, with the decision that allowed it."""

    items: list[ConsentNoticePublic]
    total: int
    limit: int
    offset: int
    decision_id: str
    policy_version: str
