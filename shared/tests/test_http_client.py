"""The pooled client every service shares across users' calls keeps no cookies."""

from __future__ import annotations

import httpx

from anxin_shared.http import make_async_client


async def test_a_cookie_one_answer_sets_never_rides_on_the_next_call() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(
            200, headers={"set-cookie": "session=agent-li; Path=/"}, json={"ok": True}
        )

    client = make_async_client(transport=httpx.MockTransport(answer))
    async with client:
        first = await client.get("http://profile.internal/api/v1/customers/C000001")
        await client.get("http://profile.internal/api/v1/customers/C000002")
    assert first.headers["set-cookie"].startswith("session=")
    assert seen == [None, None]
    assert len(client.cookies.jar) == 0
