"""The profile service's internal verification API, as identity consumes it.

Every call carries identity's signed service token (`runtime.peers`); a
profile that is down or answers 5xx is a 503, and so is any answer this client
does not understand (a refused grant, a changed schema): verification fails
closed. Raw numbers go to profile in the request body only, never into a URL
or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from anxin_shared.errors import DependencyUnavailable, ValidationFailed
from anxin_shared.http import ServiceClient

PEER = "profile"


@dataclass(frozen=True)
class Match:
    """A customer a number or device belongs to."""

    customer_id: str
    subsidiary: str


class ProfileClient:
    """Typed calls to profile's `/internal/v1` verification routes."""

    def __init__(self, peers: ServiceClient | None) -> None:
        if peers is None:
            raise DependencyUnavailable("the profile service is not reachable yet")
        self.peers = peers

    async def _json(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        response: httpx.Response = await self.peers.call(PEER, method, path, json=body)
        try:
            payload = response.json()
        except ValueError as exc:
            raise DependencyUnavailable("profile answered something unreadable") from exc
        return response.status_code, payload

    def _expect_ok(self, status: int, payload: Any, key: str) -> Any:
        if status != 200 or not isinstance(payload, dict) or key not in payload:
            raise DependencyUnavailable(f"profile refused the verification call ({status})")
        return payload[key]

    async def _matches(self, path: str, body: dict[str, str]) -> list[Match]:
        status, payload = await self._json("POST", path, body)
        matches = self._expect_ok(status, payload, "matches")
        try:
            return [Match(str(m["customer_id"]), str(m["subsidiary"])) for m in matches]
        except (KeyError, TypeError) as exc:
            raise DependencyUnavailable("profile answered an unexpected match list") from exc

    async def match_number(self, number: str) -> list[Match]:
        """Customers whose registered number this is."""
        return await self._matches("/internal/v1/contact-points:match", {"number": number})

    async def match_device(self, device_id: str) -> list[Match]:
        """Customers with this known device or app session."""
        return await self._matches("/internal/v1/devices:match", {"device_id": device_id})

    async def customer_subsidiary(self, customer_id: str) -> str | None:
        """The customer's subsidiary, or None if there is no such customer."""
        status, payload = await self._json("GET", f"/internal/v1/customers/{customer_id}/exists")
        exists = self._expect_ok(status, payload, "exists")
        return str(payload.get("subsidiary")) if exists else None

    async def questions(self, customer_id: str) -> list[dict[str, str]]:
        """The customer's knowledge questions (never the answers)."""
        status, payload = await self._json(
            "GET", f"/internal/v1/customers/{customer_id}/knowledge-questions"
        )
        questions = self._expect_ok(status, payload, "questions")
        return [
            {"question_id": str(q["question_id"]), "prompt_zh": str(q["prompt_zh"])}
            for q in questions
        ]

    async def check(self, customer_id: str, question_id: str, answer: str) -> bool:
        """Whether the caller's answer is right; profile compares, nothing is returned."""
        status, payload = await self._json(
            "POST",
            f"/internal/v1/customers/{customer_id}/knowledge:check",
            {"question_id": question_id, "answer": answer},
        )
        if status in (400, 422):
            raise ValidationFailed("unknown question for this customer")
        return bool(self._expect_ok(status, payload, "correct"))

    async def otp_destination(self, customer_id: str) -> str:
        """The registered mobile (for the SMS adapter only)."""
        status, payload = await self._json(
            "GET", f"/internal/v1/customers/{customer_id}/otp-destination"
        )
        return str(self._expect_ok(status, payload, "mobile"))
