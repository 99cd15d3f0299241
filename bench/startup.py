"""Start-up time and idle memory of `medianest serve` on the embedded default (SQLite, no
Redis) or with `--backend postgres` on PostgreSQL + Redis, measured as the full benchmark
does but alone, in about a minute: each round starts on a new data directory and
database (migrations, bootstrap admin), stops, then restarts on that database
`--restarts` times; spawn to the first 200 from `/api/health`, and RSS 2 s after each
restart. Served from `bench/.venv-runtime` (runtime dependencies only) unless
`--interpreter current`.

`--against SRC` measures the code under SRC (another checkout's `src`, e.g. a worktree
of an older commit) the same way, alternating with this checkout's code restart by
restart, each on its own database: on a machine whose load moves, the restart-by-restart
differences say more than either median alone.

    python -m bench.startup [--rounds 3] [--restarts 3] [--backend sqlite|postgres]
                            [--against SRC] [--interpreter runtime|current]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import backends
from bench.processes import ROOT, medianest_server, runtime_python

MB = 1024 * 1024
IDLE_AFTER_SECONDS = 2.0


@dataclass
class Code:
    """One version of MediaNest under test: its `src` and what was measured of it."""

    name: str
    src: Path
    first: list[float] = field(default_factory=list)
    restart: list[float] = field(default_factory=list)
    idle_mb: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "src": str(self.src),
            "first_start_s": {
                "median": round(statistics.median(self.first), 2),
                "all": [round(x, 2) for x in self.first],
            },
            "restart_s": {
                "median": round(statistics.median(self.restart), 2),
                "min": round(min(self.restart), 2),
            },
            "idle_rss_mb": {
                "median": round(statistics.median(self.idle_mb), 1),
                "min": round(min(self.idle_mb), 1),
                "max": round(max(self.idle_mb), 1),
            },
        }


def new_backend(name: str, data_dir: Path) -> backends.Backend:
    if name == "sqlite":
        return backends.embedded(data_dir)
    backend = backends.postgres_redis(data_dir)
    if isinstance(backend, str):
        raise SystemExit(f"--backend postgres: {backend}")
    return backend


def serve(python: str, code: Code, backend: backends.Backend, log: Path, *, idle: bool) -> float:
    """Start `code` on `backend` and wait for its first 200; with `idle`, take its RSS
    after it idled. Returns the start's seconds."""
    env = {**backend.env, "PYTHONPATH": str(code.src)}
    server = medianest_server("medianest", env, log, python, src=code.src)
    server.start("/api/health")
    try:
        if idle:
            time.sleep(IDLE_AFTER_SECONDS)
            code.idle_mb.append(server.rss_bytes() / MB)
    finally:
        server.stop()
    return server.startup_seconds


def measure(
    python: str, codes: list[Code], rounds: int, restarts: int, backend_name: str
) -> dict[str, Any]:
    loads = [os.getloadavg()]
    for number in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            made: list[backends.Backend] = []
            try:
                for index, code in enumerate(codes):
                    data_dir = Path(tmp) / str(index)
                    data_dir.mkdir()
                    made.append(new_backend(backend_name, data_dir))
                    log = data_dir / "serve.log"
                    code.first.append(serve(python, code, made[-1], log, idle=False))
                for turn in range(restarts):
                    # Alternate which code goes first, so neither always follows the other.
                    order = list(enumerate(codes))
                    if (number + turn) % 2:
                        order.reverse()
                    for index, code in order:
                        log = Path(tmp) / str(index) / "serve.log"
                        code.restart.append(serve(python, code, made[index], log, idle=True))
            finally:
                for backend in made:
                    backends.drop(backend)
        loads.append(os.getloadavg())
    result: dict[str, Any] = {code.name: code.summary() for code in codes}
    if len(codes) == 2:
        this, other = codes
        differences = [a - b for a, b in zip(this.restart, other.restart, strict=True)]
        result["restart_this_minus_against_s"] = {
            "median": round(statistics.median(differences), 3),
            "all": [round(x, 2) for x in differences],
        }
    result["backend"] = backend_name
    result["load_average"] = {"start": loads[0], "end": loads[-1]}
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--against", type=Path, help="another checkout's src to compare with")
    parser.add_argument("--interpreter", choices=("runtime", "current"), default="runtime")
    args = parser.parse_args(argv)
    python = runtime_python() if args.interpreter == "runtime" else sys.executable
    codes = [Code("this", ROOT / "src")]
    if args.against is not None:
        codes.append(Code("against", args.against.resolve()))
    result = measure(python, codes, args.rounds, args.restarts, args.backend)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
