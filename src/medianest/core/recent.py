"""The least recently used out first, within a limit on the entries' total weight: the
bookkeeping MediaNest's in-process maps share (answers kept, compressed bodies, the
memory cache, per-user Plex clients, requests whose answer could not be kept). Weight is
1 an entry unless a `weigh` function says otherwise (bytes, for the maps bounded by size).
Ages and expiry stay with each map: what "stale" means differs from one to the next."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(_key: object, _value: object) -> int:
    return 1


class RecentlyUsed(Generic[K, V]):
    """A map that drops its least recently used entries once their total weight passes
    `limit`; `get` marks an entry used, `peek` does not."""

    def __init__(self, limit: int, weigh: Callable[[K, V], int] = _one) -> None:
        self.limit = limit
        self.weight = 0
        self._weigh = weigh
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def peek(self, key: K) -> V | None:
        return self._entries.get(key)

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[V]:
        """Add or replace `key`'s entry as the most recently used; returns the entries
        that went out to keep within the limit, oldest first (the new one among them
        only when it alone weighs more than the limit)."""
        self.pop(key)
        self._entries[key] = value
        self.weight += self._weigh(key, value)
        dropped: list[V] = []
        while self.weight > self.limit and self._entries:
            old_key, old_value = self._entries.popitem(last=False)
            self.weight -= self._weigh(old_key, old_value)
            dropped.append(old_value)
        return dropped

    def pop(self, key: K) -> V | None:
        value = self._entries.pop(key, None)
        if value is not None:
            self.weight -= self._weigh(key, value)
        return value

    def values(self) -> list[V]:
        return list(self._entries.values())
