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


def printed_by(script: str) -> list[str]:
    """What `script` prints, run in a process of its own (its heap is the test's)."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_the_trim_hands_back_freed_pages_below_a_live_block() -> None:
    trimmed, before, after, _ = printed_by(FREED_BELOW_A_LIVE_BLOCK)
    assert trimmed == "True"
    # ~80 MB were freed; what the allocator kept of them goes back to the system.
    assert float(before) - float(after) > 40, (before, after)


# `serve`'s schedule (`start_trimming`, with its delays shortened): a trim soon after the
# start, another after each interval, none after the stop. Prints the resident MB after
# each burst of freed blocks and a pause.
TRIMMED_ON_SCHEDULE = textwrap.dedent(
    """
    import asyncio
    from medianest.core import heap

    heap.FIRST_TRIM_AFTER_SECONDS = 0.2
    heap.TRIM_EVERY_SECONDS = 0.5

    def resident_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    def burst():
        blocks = [bytes(2000 + i % 7) for i in range(40_000)]
        return blocks[-1]  # kept: the heap cannot shrink from its top by itself

    async def main():
        kept = [burst()]
        stop = await heap.start_trimming()
        freed = resident_mb()
        await asyncio.sleep(0.4)  # the first trim
        first = resident_mb()
        kept.append(burst())
        freed_again = resident_mb()
        await asyncio.sleep(0.6)  # the next one
        again = resident_mb()
        await stop()
        kept.append(burst())
        await asyncio.sleep(0.8)  # no trim after the stop
        print(freed - first, freed_again - again, resident_mb() - again, len(kept))

    asyncio.run(main())
    """
)


def test_serve_trims_soon_after_the_start_and_again_each_interval() -> None:
    first_trim, next_trim, after_stop, _ = (float(n) for n in printed_by(TRIMMED_ON_SCHEDULE))
    assert first_trim > 40 and next_trim > 40, (first_trim, next_trim)
    assert after_stop > 40, after_stop  # the burst after the stop stays resident
