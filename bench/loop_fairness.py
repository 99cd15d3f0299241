"""Why `medianest serve` runs on asyncio's event loop rather than uvloop: the same
saturated server (bench/busy_app.py, a route spending ~0.3 ms of CPU) on each loop, in
alternating rounds, with wrk at `connections`; requests per second and the p50 and p99
each connection sees (docs/performance.md, "The slowest answers").

    python -m bench.loop_fairness [rounds=3] [connections=50] [seconds=3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.load import run_load
from bench.processes import Server

LOOPS = ("uvloop", "asyncio")


def serve(loop: str, log: Path) -> Server:
    command = [sys.executable, "-m", "uvicorn", "bench.busy_app:app", "--port", "{port}"]
    command += ["--loop", loop, "--no-access-log", "--log-level", "warning"]
    return Server(f"busy-{loop}", command, {}, log).start("/busy")


def main(argv: list[str]) -> None:
    rounds, connections, seconds = (int(a) for a in (argv + ["3", "50", "3"][len(argv) :]))
    figures: dict[str, list[tuple[float, float, float]]] = {loop: [] for loop in LOOPS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for loop in LOOPS:
                server = serve(loop, Path(tmp) / f"{loop}.log")
                try:
                    url = server.url + "/busy"
                    run_load(url, connections=connections, seconds=1, headers={})  # warm
                    result = run_load(url, connections=connections, seconds=seconds, headers={})
                    figures[loop].append((result.requests_per_second, result.p50_ms, result.p99_ms))
                finally:
                    server.stop()
    print(f"{connections} connections, {seconds} s per cell, median of {rounds} rounds")
    print("| loop | req/s | p50 | p99 | every round's p99 |")
    print("|---|---|---|---|---|")
    for loop, cells in figures.items():
        rate, p50, p99 = (statistics.median(cell[i] for cell in cells) for i in range(3))
        each = ", ".join(f"{cell[2]:.0f}" for cell in cells)
        print(f"| {loop} | {rate:.0f} | {p50:.1f} ms | {p99:.1f} ms | {each} ms |")


if __name__ == "__main__":
    main(sys.argv[1:])
