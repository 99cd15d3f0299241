"""An upstream call searches for no module: httpcore asks which async library runs for
every lock and event it makes by importing sniffio, and Python remembers no failed
import, so without sniffio installed each call searched sys.path several times."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

PAGE = "/api/status-page/medianest"


class _Searches:
    """A finder ahead of all others that only writes down what was looked for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(name)
        return None


async def test_upstream_calls_after_the_first_search_for_no_module(kuma, make_resilient):
    client = make_resilient(kuma.url)
    await client.request("GET", PAGE)  # the first call may import what it needs, once
    searches = _Searches()
    sys.meta_path.insert(0, searches)
    try:
        for _ in range(3):
            await client.request("GET", PAGE)
    finally:
        sys.meta_path.remove(searches)
    assert kuma.request_count(PAGE) == 4
    assert searches.names == []
