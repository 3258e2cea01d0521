"""Voiceprint routes: enrollment and verification inside a call session, the fraud watchlist.

Recordings arrive as multipart WAV uploads. Handlers only read the uploads
(bounded) and hand them to one service function.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, cast

from fastapi import APIRouter, Depends, FastAPI, File, Form, Path, Request, Response, UploadFile

from anxin_identity.settings import IdentitySettings
from anxin_identity.voice import service
from anxin_identity.voice.crypto import load_cipher
from anxin_identity.voice.engine import get_engine
from anxin_identity.voice.schemas import (
    LABEL_PATTERN,
    EnrollmentPublic,
    VerificationPublic,
    WatchlistEntryPublic,
    WatchlistPublic,
)
from anxin_shared.consent import ConsentClient
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep
from anxin_shared.errors import DependencyUnavailable, PayloadTooLarge, ValidationFailed
from anxin_shared.settings import ConfigurationError

logger = logging.getLogger("anxin.identity.voice")


@asynccontextmanager
async def preload_engine(app: FastAPI) -> AsyncIterator[None]:
    """Load the voice engine at start-up (in a thread), not on the first caller's time.

    Runs inside the service's own lifespan (FastAPI merges a router's lifespan
    into the app's). Without the `voice` extra the service still starts; the
    voice routes then answer 503.
    """
    settings = cast(IdentitySettings, app.state.runtime.settings)
    if settings.voice_preload:
        try:
            await asyncio.to_thread(get_engine(settings.voice_engine).warm_up)
        except DependencyUnavailable as exc:
            logger.warning("voice engine not loaded: %s", exc)
    yield


router = APIRouter(tags=["voiceprints"], lifespan=preload_engine)
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
EntryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def voice_context(request: Request, runtime: RuntimeDep) -> service.VoiceContext:
    """The engine (loaded once per process) and the embedding cipher of this app."""
    context: service.VoiceContext | None = getattr(request.app.state, "voice_context", None)
    if context is None:
        settings = cast(IdentitySettings, runtime.settings)
        key = settings.voiceprint_key.get_secret_value() if settings.voiceprint_key else None
        try:
            cipher = load_cipher(key, FilePath(str(settings.keys_dir)), settings.is_dev)
        except ConfigurationError as exc:
            raise DependencyUnavailable("the voiceprint key is not configured") from exc
        context = service.VoiceContext(
            settings=settings,
            policy=runtime.policy,
            engine=get_engine(settings.voice_engine),
            cipher=cipher,
        )
        request.app.state.voice_context = context
    return context


VoiceContextDep = Annotated[service.VoiceContext, Depends(voice_context)]


async def _read_all(uploads: list[UploadFile], limit: int) -> list[bytes]:
    """Each upload's bytes, refusing one over `limit` without reading it all."""
    contents = []
    for index, upload in enumerate(uploads, start=1):
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"recording {index}: at most {limit} bytes")
        contents.append(data)
    return contents


@router.post(
    "/api/v1/calls/{session_id}/voiceprint/enrollment",
    response_model=EnrollmentPublic,
    status_code=201,
)
async def enroll_voiceprint(
    session_id: SessionId,
    utterances: Annotated[list[UploadFile], File(description="2 or more WAV recordings")],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    context: VoiceContextDep,
) -> EnrollmentPublic:
    """Enroll the session's customer (needs their separate biometric consent)."""
    uploads = await _read_all(utterances, context.settings.voice_max_audio_bytes)
    return await service.enroll(
        session, context, ConsentClient(runtime.peers), principal, session_id, uploads
    )


@router.post(
    "/api/v1/calls/{session_id}/voiceprint/verification", response_model=VerificationPublic
)
async def verify_voiceprint(
    session_id: SessionId,
    audio: Annotated[UploadFile, File(description="one WAV recording of the caller")],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    context: VoiceContextDep,
) -> VerificationPublic:
    """Verify the caller's voice against the customer's voiceprint and the watchlist."""
    (upload,) = await _read_all([audio], context.settings.voice_max_audio_bytes)
    return await service.verify(
        session, context, ConsentClient(runtime.peers), principal, session_id, upload
    )


@router.get("/api/v1/voiceprint-watchlist", response_model=WatchlistPublic)
def list_watchlist(
    principal: PrincipalDep, session: SessionDep, context: VoiceContextDep
) -> WatchlistPublic:
    """The fraud voiceprint watchlist (security staff)."""
    return service.list_watchlist(session, context, principal)


@router.post("/api/v1/voiceprint-watchlist", response_model=WatchlistEntryPublic, status_code=201)
async def add_to_watchlist(
    label: Annotated[str, Form(max_length=64)],
    utterances: Annotated[list[UploadFile], File(description="1 or more WAV recordings")],
    principal: PrincipalDep,
    session: SessionDep,
    context: VoiceContextDep,
) -> WatchlistEntryPublic:
    """Put a known fraudster's voice on the watchlist (security staff)."""
    if not re.fullmatch(LABEL_PATTERN, label):
        raise ValidationFailed("the label is a case reference: letters, digits, _ . : / -")
    uploads = await _read_all(utterances, context.settings.voice_max_audio_bytes)
    return await service.add_to_watchlist(session, context, principal, label, uploads)


@router.delete("/api/v1/voiceprint-watchlist/{entry_id}", status_code=204)
def remove_from_watchlist(
    entry_id: EntryId, principal: PrincipalDep, session: SessionDep, context: VoiceContextDep
) -> Response:
    """Take an entry off the watchlist (security staff)."""
    service.remove_from_watchlist(session, context, principal, entry_id)
    return Response(status_code=204)
