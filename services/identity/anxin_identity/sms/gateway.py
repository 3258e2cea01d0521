"""SMS-gateway adapters behind one interface.

`DevSinkSms` (the dev default) appends each message as a JSON line to a sink
file under `var/`, where tests and developers read the code; it is refused
outside dev by the settings. `HttpSmsGateway` posts to a vendor endpoint.
Neither logs the number or the text.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from anxin_shared.masking import mask_mobile


class SmsGateway(Protocol):
    """Sends one text message; raises to have the outbox retry it."""

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Send `text` to `mobile`; `reference` identifies the message (no PII)."""


class DevSinkSms:
    """Dev only: each "sent" message becomes a line of `path` (JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(line + "\n")

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Write the message to the sink (the number masked: the sink is not a phone)."""
        line = json.dumps(
            {
                "reference": reference,
                "to_masked": mask_mobile(mobile),
                "text": text,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        )
        await asyncio.to_thread(self._append, line)


class HttpSmsGateway:
    """A vendor SMS API taking `{"to", "text", "reference"}` as JSON."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self.client = client

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """POST the message; any non-2xx raises so the outbox retries."""
        response = await self.client.post(
            self.url, json={"to": mobile, "text": text, "reference": reference}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"the SMS gateway answered {response.status_code}")


class NoSmsGateway:
    """No SMS gateway configured: codes are refused before they are issued (see codes.py)."""

    async def send(self, mobile: str, text: str, reference: str) -> None:
        """Never reached for new codes; an event left from earlier stays pending."""
        raise RuntimeError("no SMS gateway is configured")


def read_sink(path: Path) -> list[dict[str, str]]:
    """Every message in a dev sink (for tests and the dev CLI)."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
