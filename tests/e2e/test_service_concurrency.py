"""A backend service keeps answering with far more requests in flight than it has threads.

Profile's customer read writes its audit row in the request's transaction, and the
sync endpoints run on anyio's 40 worker threads. Before `InFlightLimit`
(anxin_shared.app), about 45 concurrent reads took every thread while the one
holding SQLite's write lock waited for a thread to finish: the service locked up
for minutes. Here 200 reads are in flight at once, sent straight to the service
with the internal token the gateway would send, and every one is answered.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal
from anxin_shared.tokens import MAX_INTERNAL_LIFETIME, service_signer
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

AGENT, CUSTOMER = "agent.li", "C000002"
IN_FLIGHT = 200
# Liveness, not speed: a locked-up service does not answer for minutes.
ALL_ANSWERED_WITHIN = 120.0


def test_two_hundred_concurrent_reads_are_all_answered(running_suite: RunningSuite) -> None:
    engine = PolicyEngine(running_suite.policies_dir)
    engine.load()
    signer = service_signer("gateway", running_suite.suite.var_dir / "keys")
    url = f"{running_suite.suite.url('profile')}/api/v1/customers/{CUSTOMER}"

    def token() -> str:
        principal = Principal(
            subject=AGENT,
            kind="user",
            subsidiary="life",
            roles=tuple(engine.roles_for(AGENT, "life")),
            assurance_level="L2",
            call_session=uuid.uuid4().hex,
            verified_customer=CUSTOMER,
            decision_id=uuid.uuid4().hex,
            request_id=uuid.uuid4().hex,
        )
        claims = principal.internal_claims()
        return signer.mint(AGENT, "anxin-profile", MAX_INTERNAL_LIFETIME, **claims)

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with httpx.AsyncClient(limits=limits, timeout=ALL_ANSWERED_WITHIN) as client:

            async def one() -> int:
                response = await client.get(url, headers={"authorization": f"Bearer {token()}"})
                return response.status_code

            return await asyncio.gather(*(one() for _ in range(IN_FLIGHT)))

    statuses = asyncio.run(asyncio.wait_for(burst(), ALL_ANSWERED_WITHIN))
    assert statuses == [200] * IN_FLIGHT, sorted(set(statuses))
