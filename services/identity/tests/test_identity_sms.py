"""The SMS side of one-time codes: the outbox sender and the adapters behind the interface."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from anxin_identity.calls import service
from anxin_identity.calls.codes import SMS_TOPIC, code_hash, derive_code, sms_sender
from anxin_identity.calls.profile import ProfileClient
from anxin_identity.sms.gateway import DevSinkSms, HttpSmsGateway, read_sink
from anxin_shared.errors import DependencyUnavailable
from anxin_shared.http import ServiceClient
from anxin_shared.keys import ensure_dev_keys, load_key, private_key_path
from anxin_shared.tokens import TokenSigner

KEY = "k" * 32
MOBILE = "13912345678"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.other: list[tuple[str, list[dict[str, Any]]]] = []

    async def send(self, mobile: str, text: str, reference: str) -> None:
        self.sent.append((mobile, text, reference))

    async def fallback(self, topic: str, events: list[dict[str, Any]]) -> None:
        self.other.append((topic, events))


async def destination(customer_id: str) -> str:
    assert customer_id == "C100001"
    return MOBILE


def event(code_id: str, seconds: int) -> dict[str, Any]:
    expires = service.utcnow() + timedelta(seconds=seconds)
    return {"code_id": code_id, "customer_id": "C100001", "expires_at": expires.isoformat()}


async def test_the_sender_derives_the_code_and_skips_expired_ones() -> None:
    recorder = Recorder()
    send = sms_sender(recorder, KEY, 6, destination, recorder.fallback)

    await send(SMS_TOPIC, [event("fresh", 300), event("stale", -1)])
    await send("audit.event", [{"event_id": "e1"}])

    [(mobile, text, reference)] = recorder.sent
    assert (mobile, reference) == (MOBILE, "fresh")
    assert derive_code(KEY, "fresh", 6) in text
    assert "5分钟" in text
    assert recorder.other == [("audit.event", [{"event_id": "e1"}])]


def test_codes_are_keyed_uniform_digits_and_only_their_hash_is_comparable() -> None:
    codes = {derive_code(KEY, f"id-{n}", 6) for n in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 190
    assert derive_code(KEY, "x", 6) != derive_code("j" * 32, "x", 6)
    code = derive_code(KEY, "x", 6)
    assert code_hash(KEY, "x", code) != code_hash(KEY, "y", code)
    assert code not in code_hash(KEY, "x", code)


async def test_the_dev_sink_masks_the_number(tmp_path: Path) -> None:
    sink = DevSinkSms(tmp_path / "sink" / "sms.jsonl")
    await sink.send(MOBILE, "【安信】您的验证码为123456", "ref-1")
    [message] = read_sink(tmp_path / "sink" / "sms.jsonl")
    assert message["reference"] == "ref-1"
    assert message["to_masked"] == "139****5678"
    assert MOBILE not in (tmp_path / "sink" / "sms.jsonl").read_text()


async def test_the_http_adapter_posts_and_raises_on_refusal() -> None:
    seen: list[dict[str, str]] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200 if len(seen) == 1 else 502)

    async with httpx.AsyncClient(transport=httpx.MockTransport(vendor)) as client:
        adapter = HttpSmsGateway("https://sms.example.cn/send", client)
        await adapter.send(MOBILE, "text", "ref-1")
        with pytest.raises(RuntimeError):
            await adapter.send(MOBILE, "text", "ref-2")
    assert seen[0] == {"to": MOBILE, "text": "text", "reference": "ref-1"}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(403, json={"detail": "this service may not call this operation"}),
        httpx.Response(200, json={"unexpected": []}),
        httpx.Response(200, text="not json"),
    ],
)
async def test_profile_answers_identity_does_not_understand_fail_closed(
    answer: httpx.Response, tmp_path: Path
) -> None:
    ensure_dev_keys(tmp_path)
    signer = TokenSigner(
        issuer="anxin-identity",
        key=load_key(private_key_path(tmp_path, "identity")),
        kid="identity",
    )
    transport = httpx.MockTransport(lambda _: answer)
    async with httpx.AsyncClient(transport=transport) as http:
        peers = ServiceClient("identity", signer, {"profile": "http://profile"}, http)
        with pytest.raises(DependencyUnavailable):
            await ProfileClient(peers).match_number(MOBILE)
