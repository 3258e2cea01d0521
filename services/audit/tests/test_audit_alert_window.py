"""The alert evaluator's sliding window: distinct keys kept as hits come and go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anxin_audit.alerts.evaluator import MAX_EVIDENCE, Hit, Window

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def hit(seconds: float, key: str, seq: int) -> Hit:
    return Hit(START + timedelta(seconds=seconds), seq, f"ev-{seq}", key)


def test_distinct_keys_follow_the_hits_in_the_span() -> None:
    window = Window()
    for seq, (at, key) in enumerate([(0, "C1"), (10, "C2"), (20, "C1"), (30, "C3")]):
        window.push(hit(at, key, seq), window_seconds=60)
    assert window.distinct == 3 and window.first.seq == 0
    window.push(hit(75, "C4", 4), window_seconds=60)  # 0 and 10 fall out; C1 stays (20)
    assert window.distinct == 3 and window.first.seq == 2
    assert sorted(window.keys) == ["C1", "C3", "C4"]
    window.push(hit(200, "C4", 5), window_seconds=60)  # everything before 140 falls out
    assert window.distinct == 1 and [h.seq for h in window.hits] == [5]


def test_a_busy_window_counts_the_same_as_a_recount_and_keeps_the_newest_evidence() -> None:
    window = Window()
    hits = [hit(index * 0.01, f"C{index % 97}", index) for index in range(5000)]
    for item in hits:
        window.push(item, window_seconds=30)
    kept = [item for item in hits if item.at >= hits[-1].at - timedelta(seconds=30)]
    assert window.distinct == len({item.key for item in kept})
    evidence = window.evidence()
    assert len(evidence) == MAX_EVIDENCE and evidence == kept[-MAX_EVIDENCE:]
