"""The trim after start-up gives freed memory back to the system (core/heap.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A heap shaped as start-up leaves it: many blocks, too large for Python's own small
# object allocator, freed except for one near the top that keeps the allocator from
# shrinking the heap on its own. Prints the resident MB before and after the trim.
FREED_BELOW_A_LIVE_BLOCK = textwrap.dedent(
    """
    from medianest.core.heap import trim_free_memory

    def resident_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    blocks = [bytes(2000 + i % 7) for i in range(40_000)]
    kept = blocks[-1]
    del blocks
    before = resident_mb()
    trimmed = trim_free_memory()
    print(trimmed, before, resident_mb(), len(kept))
    """
)


def test_the_trim_hands_back_freed_pages_below_a_live_block() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FREED_BELOW_A_LIVE_BLOCK],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trimmed, before, after, _ = result.stdout.split()
    assert trimmed == "True"
    # ~80 MB were freed; what the allocator kept of them goes back to the system.
    assert float(before) - float(after) > 40, (before, after)
