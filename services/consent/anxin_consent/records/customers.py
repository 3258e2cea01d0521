"""Which customers exist: the profile service owns the customer master, so consent asks it.

Contract (profile implements): `GET /internal/v1/customers/{id}/exists` →
`{"exists": bool, "subsidiary": str | null}`, for callers the policy grants
(`customer.existence`, `read`). Anything but a clear answer fails closed (503).
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.http import ServiceClient

CUSTOMER_SUBSIDIARIES = frozenset({"life", "pc", "bank"})


class CustomerExistence(BaseModel):
    """Profile's answer: whether the id exists, and whose customer it is."""

    exists: bool
    subsidiary: str | None = None


async def customer_subsidiary(peers: ServiceClient | None, customer_id: str) -> str | None:
    """The customer's subsidiary, or None when profile says there is no such customer."""
    if peers is None:
        raise DependencyUnavailable("the profile service is not reachable")
    response = await peers.call("profile", "GET", f"/internal/v1/customers/{customer_id}/exists")
    if response.status_code != 200:
        raise DependencyUnavailable("the profile service cannot confirm the customer")
    try:
        answer = CustomerExistence.model_validate_json(response.content)
    except ValidationError as exc:
        raise DependencyUnavailable("the profile service gave no clear answer") from exc
    if not answer.exists:
        return None
    if answer.subsidiary not in CUSTOMER_SUBSIDIARIES:
        raise DependencyUnavailable("the profile service named no known subsidiary")
    return answer.subsidiary
