"""The gateway's bulkhead: a bounded number of requests in flight per service, then 503."""

from __future__ import annotations

import asyncio

import pytest

from anxin_gateway.proxy import Bulkhead
from anxin_shared.errors import DependencyUnavailable


async def test_no_more_than_the_limit_run_at_once_and_the_rest_wait_their_turn() -> None:
    bulkhead = Bulkhead(limit=3, timeout=30)
    running, peak, finished = 0, 0, 0

    async def call() -> None:
        nonlocal running, peak, finished
        async with bulkhead.slot("profile"):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            running -= 1
            finished += 1

    await asyncio.gather(*(call() for _ in range(20)))
    assert (peak, finished) == (3, 20)


async def test_a_saturated_service_is_a_503_and_other_services_are_not_held_up() -> None:
    bulkhead = Bulkhead(limit=1, timeout=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.slot("profile"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(DependencyUnavailable):
        async with bulkhead.slot("profile"):
            pass
    async with bulkhead.slot("consent"):
        pass
    release.set()
    await holder
    async with bulkhead.slot("profile"):  # the slot came back
        pass
