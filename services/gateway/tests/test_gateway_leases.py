"""When the gateway may use a call-session answer without asking identity (its lease).

Each rule of `CallSessionResolver.leasable` is broken on its own here, with a
clock the test moves; the end-to-end behaviour (real identity, its feed, a
close through this or another replica) is in test_gateway_callsessions.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from anxin_gateway.callsessions import (
    LIVE_WINDOW,
    MAX_LEASE_AGE,
    CallSessionResolver,
    ChangeFeed,
    Lease,
    Lent,
)
from anxin_shared.errors import DependencyUnavailable

RULES = "v1:assurance-a"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def feed_answer(seq: int, changes: list[tuple[int, str]], **extra: Any) -> dict[str, Any]:
    return {"seq": seq, "changes": changes, "complete": True, "fingerprint": RULES, **extra}


def following(clock: Clock) -> CallSessionResolver:
    """A resolver whose feed has read once, at seq 10, just now."""
    resolver = CallSessionResolver(feed=ChangeFeed(clock))
    resolver.feed.apply(1, clock(), feed_answer(10, []))
    return resolver


def lent(clock: Clock, change_seq: int = 12, **terms: Any) -> Lent:
    lease = Lease(
        expires_at=terms.get("expires_at", time.time() + 600),
        change_seq=change_seq,
        fingerprint=terms.get("fingerprint", RULES),
        granted=clock(),
    )
    return Lent("agent.li", 3, "L2", "C000002", lease)


def test_a_fresh_answer_on_a_live_feed_is_leasable() -> None:
    clock = Clock()
    resolver = following(clock)
    assert resolver.leasable("S1", lent(clock), "agent.li")
    assert not resolver.leasable("S1", lent(clock), "agent.wang")  # another agent asks identity


def test_a_feed_not_heard_within_the_window_ends_leases() -> None:
    clock = Clock()
    resolver = following(clock)
    answer = lent(clock)
    clock.now += LIVE_WINDOW + 0.01
    assert not resolver.leasable("S1", answer, "agent.li")
    resolver.feed.apply(2, clock(), feed_answer(10, []))
    assert resolver.leasable("S1", answer, "agent.li")


def test_a_change_newer_than_the_answer_ends_its_lease_even_if_read_first() -> None:
    clock = Clock()
    resolver = following(clock)
    # The feed reads change 13 of S1 before identity's (older) answer, reflecting 12, arrives.
    resolver.feed.apply(2, clock(), feed_answer(13, [(13, "S1")]))
    assert not resolver.leasable("S1", lent(clock, change_seq=12), "agent.li")
    assert resolver.leasable("S1", lent(clock, change_seq=13), "agent.li")
    assert resolver.leasable("S2", lent(clock, change_seq=12), "agent.li")


def test_a_change_read_from_the_feed_drops_the_cached_answer() -> None:
    clock = Clock()
    resolver = following(clock)
    resolver.cache["S1"] = lent(clock)
    resolver.feed.apply(2, clock(), feed_answer(14, [(14, "S1")]))
    resolver.feed.apply(3, clock(), feed_answer(14, [(14, "S1")]))  # sent again: no harm
    assert "S1" not in resolver.cache


def test_an_answer_older_than_the_start_of_following_is_not_leasable() -> None:
    clock = Clock()
    resolver = following(clock)  # started following at 10: changes up to 10 were never read
    assert not resolver.leasable("S1", lent(clock, change_seq=9), "agent.li")


@pytest.mark.parametrize(
    "answer",
    [
        feed_answer(11, [], fingerprint="v2:assurance-a"),  # the access policy changed
        feed_answer(11, [], fingerprint="v1:assurance-b"),  # the assurance policy changed
        feed_answer(11, [], complete=False),  # more changes than one answer holds
    ],
)
def test_new_rules_or_an_incomplete_read_end_every_lease(answer: dict[str, Any]) -> None:
    clock = Clock()
    resolver = following(clock)
    resolver.cache["S1"] = lent(clock)
    resolver.feed.apply(2, clock(), answer)
    assert resolver.cache == {}
    # Following starts again from this read: no answer older than it is leased...
    assert not resolver.leasable("S1", lent(clock, change_seq=10), "agent.li")
    # ...nor one decided under other rules than the feed's now.
    assert resolver.leasable("S1", lent(clock, change_seq=12), "agent.li") == (
        answer["fingerprint"] == RULES
    )


def test_an_unreadable_feed_answer_fails_and_stops_following() -> None:
    clock = Clock()
    resolver = following(clock)
    with pytest.raises(DependencyUnavailable):
        resolver.feed.apply(2, clock(), {"seq": "eleven", "changes": []})
    resolver.feed.reset()
    assert not resolver.feed.live()


def test_expiry_and_age_end_a_lease() -> None:
    clock = Clock()
    resolver = following(clock)
    assert not resolver.leasable("S1", lent(clock, expires_at=time.time() + 0.5), "agent.li")
    old = lent(clock)
    clock.now += MAX_LEASE_AGE
    resolver.feed.apply(2, clock(), feed_answer(10, []))
    assert not resolver.leasable("S1", old, "agent.li")


def test_a_change_through_this_gateway_waits_for_a_feed_read_started_after_it() -> None:
    clock = Clock()
    resolver = following(clock)
    answer = lent(clock)
    resolver.change_begins("S1")
    resolver.feed.reads += 1  # a read starts while the change is on its way...
    assert not resolver.leasable("S1", answer, "agent.li")
    resolver.change_ends("S1")
    resolver.feed.apply(resolver.feed.reads, clock(), feed_answer(10, []))  # ...and succeeds
    assert not resolver.leasable("S1", answer, "agent.li")
    resolver.feed.reads += 1  # the first read started after the change was answered
    resolver.feed.apply(resolver.feed.reads, clock(), feed_answer(10, []))
    assert resolver.leasable("S1", answer, "agent.li")
