"""Dispatch and delivery: due messages go through the outbox to the SMS / app-push adapters.

`dispatch_due` runs in the background (and in tests, with a moved clock): for a
campaign message it checks, at the moment it is due, the purpose opt-out, the
quiet hours (a message due inside them waits until they end) and the frequency
cap; a fraud alert skips those (see `service.py`). A message that passes is
audited and handed to the outbox as `profile.outreach` carrying only its id;
the relay renders the text from the template and variables, sends it, and
records `sent` (or `failed`, retried by the outbox).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from anxin_profile.clock import Clock
from anxin_profile.customers import repository as customers
from anxin_profile.outreach import repository
from anxin_profile.outreach.models import OutreachMessage, OutreachTemplate
from anxin_profile.outreach.quiet_hours import QuietHours
from anxin_profile.outreach.service import FRAUD_ALERT, audit_message
from anxin_profile.outreach.texts import has_unmasked_number, render
from anxin_profile.settings import ProfileSettings
from anxin_shared.app import ServiceRuntime
from anxin_shared.db import Database
from anxin_shared.messaging import (
    DevSinkPush,
    DevSinkSms,
    HttpSmsGateway,
    MessageGateway,
    NoSmsGateway,
)
from anxin_shared.outbox import Sender, enqueue

OUTREACH_TOPIC = "profile.outreach"
logger = logging.getLogger("anxin.profile.outreach")


def _hold_reason(
    session: Session, message: OutreachMessage, now: datetime, settings: ProfileSettings
) -> str | None:
    """Why a due campaign message is suppressed now (opt-out, cap), or None."""
    if repository.opted_out(session, message.customer_id, message.purpose):
        return "opted_out"
    since = now - timedelta(hours=settings.outreach_frequency_window_hours)
    sent = repository.dispatched_since(session, message.customer_id, message.purpose, since)
    if sent >= settings.outreach_frequency_cap:
        return "frequency_cap"
    return None


def _close(session: Session, message: OutreachMessage, status: str, reason: str) -> None:
    message.status, message.reason = status, reason
    session.add(message)
    audit_message(session, message, allowed=False)


def dispatch_due(
    session: Session, now: datetime, settings: ProfileSettings, limit: int = 200
) -> int:
    """Hand due messages to the outbox (or suppress or defer them); return how many went."""
    quiet = QuietHours.parse(settings.outreach_quiet_hours, settings.outreach_timezone)
    handed = 0
    for message in repository.due_messages(session, now, limit):
        if message.purpose != FRAUD_ALERT:
            release = quiet.release(now)
            if release > now:
                message.due_at = release
                session.add(message)
                continue
            reason = _hold_reason(session, message, now, settings)
            if reason:
                _close(session, message, "suppressed", reason)
                continue
        template = session.get(OutreachTemplate, message.template_id)
        if template is None or has_unmasked_number(_text(template, message)):
            _close(session, message, "failed", "unmasked_number" if template else "no_template")
            continue
        message.dispatched_at = now
        session.add(message)
        session.flush()
        audit_message(session, message, allowed=True)
        enqueue(session, OUTREACH_TOPIC, {"message_id": message.message_id})
        handed += 1
    session.flush()
    return handed


def _text(template: OutreachTemplate, message: OutreachMessage) -> str:
    variables: dict[str, str] = json.loads(message.variables)
    body = render(template.body, variables)
    return f"{render(template.title, variables)}\n{body}" if template.title else body


def _prepare(database: Database, message_id: str) -> tuple[str, str, str] | None:
    """(channel, address, text) of a message still to send, or None."""
    with database.session() as session:
        message = session.get(OutreachMessage, message_id)
        if message is None or message.status not in ("queued", "failed"):
            return None
        template = session.get(OutreachTemplate, message.template_id)
        customer = customers.get_customer(session, message.customer_id)
        if template is None or customer is None:
            return None
        address = (
            customer.mobile
            if message.channel == "sms"
            else repository.app_account(session, customer.customer_id)
        )
        if not address:
            return None
        return message.channel, address, _text(template, message)


def _record(database: Database, message_id: str, sent: bool) -> None:
    with database.session() as session:
        message = session.get(OutreachMessage, message_id)
        if message is None:
            return
        message.attempts += 1
        if sent:
            message.status, message.reason, message.sent_at = "sent", None, datetime.now(UTC)
        else:
            message.status, message.reason = "failed", "gateway_error"
        session.add(message)


def gateways_for(settings: ProfileSettings, runtime: ServiceRuntime) -> dict[str, MessageGateway]:
    """The configured adapters by channel (the dev sinks by default; refused outside dev)."""
    if settings.outreach_gateway == "dev-sink":
        assert settings.outreach_sms_sink_path and settings.outreach_push_sink_path
        return {
            "sms": DevSinkSms(settings.outreach_sms_sink_path),
            "app_push": DevSinkPush(settings.outreach_push_sink_path),
        }
    if settings.outreach_gateway == "http":
        assert runtime.http is not None
        return {
            "sms": HttpSmsGateway(settings.outreach_sms_url, runtime.http),
            "app_push": HttpSmsGateway(settings.outreach_push_url, runtime.http),
        }
    return {"sms": NoSmsGateway(), "app_push": NoSmsGateway()}


async def deliver(database: Database, gateways: dict[str, MessageGateway], message_id: str) -> None:
    """Send one message through its channel's adapter; raise (to be retried) when it fails."""
    prepared = await asyncio.to_thread(_prepare, database, message_id)
    if prepared is None:
        return
    channel, address, text = prepared
    try:
        await gateways[channel].send(address, text, message_id)
    except Exception:
        await asyncio.to_thread(_record, database, message_id, False)
        raise
    await asyncio.to_thread(_record, database, message_id, True)


def relay_sender(settings: ProfileSettings) -> Callable[[ServiceRuntime], Sender]:
    """The outbox sender factory: outreach messages to the adapters, the rest to peers."""

    def factory(runtime: ServiceRuntime) -> Sender:
        async def send(topic: str, events: list[dict[str, Any]]) -> None:
            if topic != OUTREACH_TOPIC:
                await runtime.deliver(topic, events)
                return
            gateways = gateways_for(settings, runtime)
            for event in events:
                await deliver(runtime.database, gateways, str(event["message_id"]))

        return send

    return factory


async def run_dispatcher(runtime: ServiceRuntime, clock: Clock, settings: ProfileSettings) -> None:
    """Dispatch due messages every `outreach_dispatch_interval_seconds`."""
    while True:
        await asyncio.sleep(settings.outreach_dispatch_interval_seconds)

        def run() -> None:
            with runtime.database.session() as session:
                dispatch_due(session, clock.now(), settings)

        try:
            await asyncio.to_thread(run)
        except Exception as exc:  # the database may be down; try again next time
            logger.warning("outreach dispatch failed: %s", type(exc).__name__)
