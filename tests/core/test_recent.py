"""The least-recently-used bookkeeping the in-process maps share (core/recent.py)."""

from __future__ import annotations

from medianest.core.recent import RecentlyUsed


def test_the_least_recently_used_goes_first_and_peeking_is_not_using() -> None:
    recent: RecentlyUsed[str, int] = RecentlyUsed(3)
    for number, key in enumerate("abc"):
        assert recent.put(key, number) == []
    assert recent.get("a") == 0  # used: "b" is now the oldest
    assert recent.peek("b") == 1  # looked at, not used
    assert recent.put("d", 3) == [1]
    assert "b" not in recent and len(recent) == 3
    assert recent.values() == [2, 0, 3]  # oldest first


def test_weight_bounds_the_total_and_a_replaced_entry_is_weighed_again() -> None:
    recent: RecentlyUsed[str, bytes] = RecentlyUsed(10, weigh=lambda _key, value: len(value))
    recent.put("a", b"1234")
    recent.put("b", b"1234")
    recent.put("a", b"12")  # replaced: 2 + 4, and "a" is the most recent now
    assert recent.weight == 6
    assert recent.put("c", b"12345") == [b"1234"]  # "b" goes; 2 + 5 fit
    assert recent.weight == 7
    assert recent.pop("a") == b"12" and recent.weight == 5
    assert recent.pop("a") is None and recent.weight == 5


def test_an_entry_heavier_than_the_limit_is_not_kept() -> None:
    recent: RecentlyUsed[str, bytes] = RecentlyUsed(4, weigh=lambda _key, value: len(value))
    recent.put("small", b"12")
    assert recent.put("big", b"12345") == [b"12", b"12345"]
    assert len(recent) == 0 and recent.weight == 0
