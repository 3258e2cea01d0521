"""Outreach routes (thin): templates, campaigns, messages, opt-outs, the call-center reminder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.outreach import service
from anxin_profile.outreach.schemas import (
    CampaignCreate,
    CampaignList,
    CampaignPublic,
    Language,
    MessageList,
    OptOutList,
    OptOutPublic,
    Purpose,
    SecurityReminder,
    TemplateCreate,
    TemplateList,
    TemplatePublic,
)
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["outreach"])
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
PurposePath = Annotated[Purpose, Path()]


@router.get("/outreach/templates", response_model=TemplateList)
def list_templates(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    purpose: Annotated[Purpose | None, Query()] = None,
) -> TemplateList:
    """Message templates (SMS, app push, call-center scripts)."""
    return service.list_templates(session, runtime.policy, principal, purpose)


@router.post("/outreach/templates", response_model=TemplatePublic, status_code=201)
def create_template(
    body: TemplateCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> TemplatePublic:
    """A new template; unknown variables or an unmasked number are a 422."""
    return service.create_template(session, runtime.policy, principal, body, clock.now())


@router.post("/outreach/campaigns", response_model=CampaignPublic, status_code=201)
def create_campaign(
    body: CampaignCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CampaignPublic:
    """Send a template to a segment's opted-in customers, now or at a later time."""
    return service.create_campaign(session, runtime.policy, principal, body, clock.now(), settings)


@router.get("/outreach/campaigns", response_model=CampaignList)
def list_campaigns(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignList:
    """Campaigns with their delivery counts, newest first."""
    return service.list_campaigns(session, runtime.policy, principal, limit)


@router.get("/outreach/campaigns/{campaign_id}", response_model=CampaignPublic)
def get_campaign(
    campaign_id: Id, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CampaignPublic:
    """One campaign with its delivery counts."""
    return service.get_campaign(session, runtime.policy, principal, campaign_id)


@router.get("/outreach/messages", response_model=MessageList)
def list_messages(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    campaign_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
    customer_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> MessageList:
    """Messages of a campaign or a customer with their delivery status."""
    return service.list_messages(
        session, runtime.policy, principal, campaign_id, customer_id, limit
    )


@router.get("/outreach/customers/{customer_id}/opt-outs", response_model=OptOutList)
def list_opt_outs(
    customer_id: Id, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> OptOutList:
    """A customer's opt-outs."""
    return service.list_opt_outs(session, runtime.policy, principal, customer_id)


@router.put("/outreach/customers/{customer_id}/opt-outs/{purpose}", response_model=OptOutPublic)
def opt_out(
    customer_id: Id,
    purpose: PurposePath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> OptOutPublic:
    """Opt a customer out of one purpose (honoured from the next message on)."""
    return service.opt_out(session, runtime.policy, principal, customer_id, purpose, clock.now())


@router.delete("/outreach/customers/{customer_id}/opt-outs/{purpose}", status_code=204)
def opt_in(
    customer_id: Id,
    purpose: PurposePath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Withdraw an opt-out."""
    service.opt_in(session, runtime.policy, principal, customer_id, purpose)
    return Response(status_code=204)


@router.get("/customers/{customer_id}/security-reminder", response_model=SecurityReminder)
def security_reminder(
    customer_id: Id,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: SettingsDep,
    language: Annotated[Language, Query()] = "zh-CN",
) -> SecurityReminder:
    """The short security reminder for the customer in your call, picked by segment."""
    return service.security_reminder(
        session, runtime.policy, principal, customer_id, language, settings
    )
