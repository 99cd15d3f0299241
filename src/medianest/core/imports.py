"""Loading cheaply: imports made to fail for a while, for libraries that fall back when
an optional import fails, and what a process loads to keep frozen out of the garbage
collector's way (the command's entry, medianest/__main__.py, and `serve`)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_COLLECTION_THRESHOLD = 10_000  # new objects between young collections (default 700)
NEVER = 10**9  # young collections between older ones


@contextmanager
def kept_for_good() -> Iterator[None]:
    """For a block that makes what lives as long as the process (its modules, the app)
    and next to no garbage: young collections only inside, then all of it frozen, out
    of every later collection's sight, before the usual thresholds come back. With the
    default thresholds `serve` made two full collections while it loaded (15 and 35 ms);
    without the freeze, the first older collection after the block walks everything it
    made (17 ms after the command's imports; docs/performance.md)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, NEVER, NEVER)
    try:
        yield
        gc.freeze()
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def absent(names: tuple[str, ...]) -> Iterator[None]:
    """`import name` raises ImportError inside, for names not imported yet; afterwards
    they import as usual."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
