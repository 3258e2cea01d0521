"""Dev-only routes: `POST /dev/token` and `GET /dev/subjects`. Absent outside dev."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from anxin_shared.app import ServiceRuntime
from anxin_shared.devtokens import dev_subjects, mint_dev_token


class DevTokenRequest(BaseModel):
    """Which seeded subject to issue a token for."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=128)


class DevTokenPublic(BaseModel):
    """A bearer token for the gateway."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


def dev_router(runtime: ServiceRuntime) -> APIRouter:
    """The dev issuer's routes, bound to this gateway's policy and keys."""
    router = APIRouter(prefix="/dev", tags=["dev"])
    keys_dir = Path(str(runtime.settings.keys_dir))

    @router.post("/token", response_model=DevTokenPublic)
    def issue_token(body: DevTokenRequest) -> DevTokenPublic:
        return DevTokenPublic(access_token=mint_dev_token(runtime.policy, keys_dir, body.subject))

    @router.get("/subjects")
    def list_subjects() -> list[dict[str, Any]]:
        return [item.as_dict() for item in dev_subjects(runtime.policy)]

    return router
