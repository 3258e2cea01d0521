"""The identity service: call sessions and the verification that raises their level."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_identity.calls import assurance
from anxin_identity.calls import service as calls_service
from anxin_identity.calls.codes import sms_sender
from anxin_identity.calls.profile import ProfileClient
from anxin_identity.calls.router import internal_router
from anxin_identity.calls.router import router as calls_router
from anxin_identity.settings import IdentitySettings
from anxin_identity.sms.gateway import DevSinkSms, HttpSmsGateway, NoSmsGateway, SmsGateway
from anxin_identity.voice import internal_router as voice_internal_router
from anxin_identity.voice import router as voice_router
from anxin_shared.app import ServiceRuntime, create_service_app, served
from anxin_shared.outbox import Sender

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
logger = logging.getLogger("anxin.identity")


def sms_gateway_for(settings: IdentitySettings, runtime: ServiceRuntime) -> SmsGateway:
    """The configured SMS adapter (the dev sink by default; refused outside dev)."""
    if settings.sms_gateway == "http":
        assert runtime.http is not None
        return HttpSmsGateway(settings.sms_gateway_url, runtime.http)
    if settings.sms_gateway == "dev-sink":
        assert settings.sms_sink_path is not None
        return DevSinkSms(settings.sms_sink_path)
    return NoSmsGateway()


def relay_sender(settings: IdentitySettings, sms: SmsGateway | None = None) -> Any:
    """The outbox sender factory: SMS events to the adapter, the rest to peers."""

    def factory(runtime: ServiceRuntime) -> Sender:
        async def destination(customer_id: str) -> str:
            return await ProfileClient(runtime.peers).otp_destination(customer_id)

        async def send(topic: str, events: list[dict[str, Any]]) -> None:
            gateway = sms or sms_gateway_for(settings, runtime)
            inner = sms_sender(
                gateway,
                settings.code_key,
                settings.otp_digits,
                destination,
                runtime.deliver,
            )
            await inner(topic, events)

        return send

    return factory


def ani_watchlist_loader(settings: IdentitySettings) -> Any:
    """The start hook that loads `ani_watchlist_file` (if set) as keyed hashes."""

    async def on_start(runtime: ServiceRuntime) -> None:
        path = settings.ani_watchlist_file
        if path is None:
            return
        lines = (await asyncio.to_thread(Path(path).read_text, encoding="utf-8")).splitlines()

        def load() -> int:
            with runtime.database.session() as session:
                return calls_service.load_ani_watchlist(session, lines, settings.ani_key)

        bad = await asyncio.to_thread(load)
        if bad:
            logger.warning("ANI watchlist: %d line(s) are not phone numbers and were skipped", bad)

    return on_start


def create_app(
    settings: IdentitySettings | None = None, sms: SmsGateway | None = None, **options: Any
) -> FastAPI:
    """Build the identity app; `sms` replaces the configured SMS adapter (tests, vendors)."""
    settings = settings or IdentitySettings()
    assurance.configure(Path(settings.policies_dir))
    options.setdefault("relay_sender_factory", relay_sender(settings, sms))
    options.setdefault("on_start", ani_watchlist_loader(settings))
    return create_service_app(
        settings,
        title="Anxin identity",
        migrations_dir=MIGRATIONS_DIR,
        public=[calls_router, voice_router.router],
        internal=[internal_router, voice_internal_router.router],
        **options,
    )


def __getattr__(name: str) -> Any:
    """`anxin_identity.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return served(create_app())
    raise AttributeError(name)
