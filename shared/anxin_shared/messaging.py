"""Message-gateway adapters (SMS and app push) behind one interface.

`DevSinkSms` and `DevSinkPush` (the dev defaults) append each message as a JSON
line to a sink file under `var/`, where tests and developers read it; services
refuse them outside dev in their settings. `HttpSmsGateway` posts to a vendor
endpoint (an SMS or a push vendor: both take `{"to", "text", "reference"}`).
None of them logs the address or the text.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from anxin_shared.masking import mask_mobile

__all__ = [
    "DevSinkPush",
    "DevSinkSms",
    "HttpSmsGateway",
    "MessageGateway",
    "NoSmsGateway",
    "SmsGateway",
    "mask_app_account",
    "read_sink",
]


class MessageGateway(Protocol):
    """Sends one message to one address; raises to have the outbox retry it."""

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Send `text` to `mobile` (or an app account); `reference` names the message (no PII)."""


# The SMS interface identity has always used (one-time codes).
SmsGateway = MessageGateway


def mask_app_account(account: str) -> str:
    """An app account with all but its first four characters starred."""
    return account[:4] + "*" * max(0, len(account) - 4)


class DevSinkSms:
    """Dev only: each "sent" message becomes a line of `path` (JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(line + "\n")

    def masked(self, address: str) -> str:
        """The address as the sink records it (the sink is not a phone)."""
        return mask_mobile(address)

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Write the message to the sink, the address masked."""
        line = json.dumps(
            {
                "reference": reference,
                "to_masked": self.masked(mobile),
                "text": text,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        await asyncio.to_thread(self._append, line)


class DevSinkPush(DevSinkSms):
    """Dev only: each app push becomes a line of `path`, the app account masked."""

    def masked(self, address: str) -> str:
        """The app account, starred after its first four characters."""
        return mask_app_account(address)


class HttpSmsGateway:
    """A vendor API taking `{"to", "text", "reference"}` as JSON (SMS or app push)."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.client = client

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """POST the message; any non-2xx raises so the outbox retries."""
        response = await self.client.post(
            self.url, json={"to": mobile, "text": text, "reference": reference}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"the message gateway answered {response.status_code}")


class NoSmsGateway:
    """No gateway configured: senders refuse before queueing; a leftover event stays pending."""

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Never reached for new messages; an event left from earlier stays pending."""
        raise RuntimeError("no message gateway is configured")


def read_sink(path: Path) -> list[dict[str, str]]:
    """Every message in a dev sink (for tests and the dev CLI)."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
