"""Tools of the attack suite: a flood of requests and a signed-in user probing list
pages while it runs, with the latency figures the suite prints.

Latency is reported, not asserted as a speed target (those live in bench/): the one
bound asserted is `WAITED_FOR_A_POOL`, far below the 17-31 s waits of a starved pool or
a hung dependency and far above any loaded machine's answer time, so it fails only when
a bystander waited on the attack."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

# A bystander answer this slow waited on the attack (a pool timeout, a hung upstream).
WAITED_FOR_A_POOL = 10.0

# The list pages a signed-in user keeps opening while the app is attacked.
LIST_PAGES = ("/api/youtube/downloads", "/api/media/requests")


@dataclass
class Probe:
    """Statuses and latencies of the requests a bystander made during an attack."""

    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)

    @property
    def p99(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)]

    @property
    def slowest(self) -> float:
        return max(self.seconds)

    def summary(self) -> str:
        return (
            f"{len(self.seconds)} bystander requests {dict(self.statuses)}, "
            f"p99 {self.p99 * 1000:.0f} ms, slowest {self.slowest * 1000:.0f} ms; "
            f"in order (ms): {[round(s * 1000) for s in self.seconds][:40]}"
        )


class Bystander:
    """A signed-in user opening list pages in turn, from a process of its own (its own
    connection, interpreter and clock): the flood's client work in the test process
    must not count against the app's answer times."""

    def __init__(
        self,
        base_url: str,
        cookies: httpx.Cookies,
        *,
        paths: Sequence[str] = LIST_PAGES,
        interval: float = 0.005,
        minimum: int = 20,
    ) -> None:
        self._config = {
            "base_url": base_url,
            "cookies": dict(cookies.items()),
            "paths": list(paths),
            "interval": interval,
            "minimum": minimum,
        }
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Bystander:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.attack.bystander"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(self._config) + "\n")
        self._process.stdin.flush()
        # The first line says it is signed in and warm, before the attack starts.
        line = self._process.stdout.readline()
        ready = json.loads(line) if line else {"ready": False}
        assert ready == {"ready": True}, ready
        return self

    async def finish(self) -> Probe:
        """Stop probing (after at least `minimum` requests) and return what it saw."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write("stop\n")
        self._process.stdin.flush()
        output, _ = await asyncio.to_thread(self._process.communicate, None, 120)
        result = json.loads(output)
        return Probe(Counter({int(k): v for k, v in result["statuses"].items()}), result["seconds"])

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)


async def flood(
    count: int, send: Callable[[int], Awaitable[httpx.Response]]
) -> tuple[Counter[int], list[httpx.Response]]:
    """`count` requests released together (`send(i)` makes the i-th); their statuses."""
    gate = asyncio.Event()

    async def one(index: int) -> httpx.Response:
        await gate.wait()
        return await send(index)

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*tasks)
    return Counter(a.status_code for a in answers), list(answers)


def many_connections(count: int) -> httpx.Limits:
    return httpx.Limits(max_connections=count, max_keepalive_connections=count)
