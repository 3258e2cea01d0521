"""Asking the consent service whether a consent holds: `ConsentClient(runtime.peers).check(...)`.

The client keeps no cache of its own: the consent service caches per replica
and invalidates exactly (a change counter read on every check), whereas a copy
here could only be invalidated by the outbox's `consent.withdrawn` event, which
arrives later than the withdrawal takes effect. Anything but a clear answer
(consent down, slow, or refusing this caller) raises `DependencyUnavailable`,
so a gated call fails closed with 503, never open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.http import ServiceClient

__all__ = ["CHECK_PATH", "ConsentCheck", "ConsentClient"]

CHECK_PATH = "/internal/v1/consent:check"
CHECK_BATCH_PATH = "/internal/v1/consent:check-batch"
MAX_BATCH = 64


@dataclass(frozen=True)
class ConsentCheck:
    """The consent service's answer for one (customer, purpose, category, recipient)."""

    allowed: bool
    consent_id: str | None
    notice_key: str | None
    notice_version: int | None
    reason: str

    @classmethod
    def from_json(cls, body: Any) -> ConsentCheck:
        """Parse one answer; anything malformed is a dependency failure (fail closed)."""
        if not isinstance(body, dict) or not isinstance(body.get("allowed"), bool):
            raise DependencyUnavailable("the consent service gave no clear answer")
        version = body.get("notice_version")
        return cls(
            allowed=body["allowed"],
            consent_id=body.get("consent_id"),
            notice_key=body.get("notice_key"),
            notice_version=int(version) if isinstance(version, int) else None,
            reason=str(body.get("reason") or ""),
        )


class ConsentClient:
    """A thin client of the consent service's internal check API (signed service token)."""

    def __init__(self, peers: ServiceClient | None) -> None:
        self.peers = peers

    async def _post(self, path: str, body: dict[str, Any], decision_id: str | None) -> Any:
        if self.peers is None:
            raise DependencyUnavailable("the consent service is not reachable")
        response = await self.peers.call(
            "consent", "POST", path, decision_id=decision_id, json=body
        )
        if response.status_code != 200:
            raise DependencyUnavailable(
                f"the consent service refused the check ({response.status_code})"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise DependencyUnavailable("the consent service gave no clear answer") from exc

    async def check(
        self,
        customer_id: str,
        purpose: str,
        category: str,
        recipient: str,
        *,
        decision_id: str | None = None,
    ) -> ConsentCheck:
        """Whether a live consent holds for exactly this scope (no bundle ever stands in)."""
        body = {
            "customer_id": customer_id,
            "purpose": purpose,
            "category": category,
            "recipient": recipient,
        }
        return ConsentCheck.from_json(await self._post(CHECK_PATH, body, decision_id))

    async def check_all(
        self,
        customer_id: str,
        purpose: str,
        categories: list[str],
        recipient: str,
        *,
        decision_id: str | None = None,
    ) -> dict[str, ConsentCheck]:
        """One answer per category (one round trip per 64 categories), keyed by category."""
        unique = list(dict.fromkeys(categories))
        answers: dict[str, ConsentCheck] = {}
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            body = {
                "checks": [
                    {
                        "customer_id": customer_id,
                        "purpose": purpose,
                        "category": category,
                        "recipient": recipient,
                    }
                    for category in chunk
                ]
            }
            reply = await self._post(CHECK_BATCH_PATH, body, decision_id)
            results = reply.get("results") if isinstance(reply, dict) else None
            if not isinstance(results, list) or len(results) != len(chunk):
                raise DependencyUnavailable("the consent service gave no clear answer")
            for category, result in zip(chunk, results, strict=True):
                answers[category] = ConsentCheck.from_json(result)
        return answers
