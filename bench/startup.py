"""Start-up time and idle memory of `medianest serve` on the embedded default (SQLite, no
Redis) or with `--backend postgres` on PostgreSQL + Redis, measured as the full benchmark
does but alone, in about a minute: each round starts on a new data directory and
database (migrations, bootstrap admin), stops, then restarts on that database
`--restarts` times; spawn to the first 200 from `/api/health`, and RSS 2 s after each
restart. Served from `bench/.venv-runtime` (runtime dependencies only) unless
`--interpreter current`.

    python -m bench.startup [--rounds 3] [--restarts 3] [--backend sqlite|postgres]
                            [--interpreter runtime|current]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import backends
from bench.processes import medianest_server, runtime_python

MB = 1024 * 1024
IDLE_AFTER_SECONDS = 2.0


def new_backend(name: str, data_dir: Path) -> backends.Backend:
    if name == "sqlite":
        return backends.embedded(data_dir)
    backend = backends.postgres_redis(data_dir)
    if isinstance(backend, str):
        raise SystemExit(f"--backend postgres: {backend}")
    return backend


def measure(python: str, rounds: int, restarts: int, backend_name: str) -> dict[str, Any]:
    first: list[float] = []
    restart: list[float] = []
    idle_mb: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            backend = new_backend(backend_name, Path(tmp))
            try:
                _round(python, backend, Path(tmp), restarts, first, restart, idle_mb)
            finally:
                backends.drop(backend)
    return {
        "first_start_s": {
            "median": round(statistics.median(first), 2),
            "all": [round(x, 2) for x in first],
        },
        "restart_s": {
            "median": round(statistics.median(restart), 2),
            "min": round(min(restart), 2),
        },
        "idle_rss_mb": {
            "median": round(statistics.median(idle_mb), 1),
            "min": round(min(idle_mb), 1),
            "max": round(max(idle_mb), 1),
        },
        "backend": backend_name,
        "load_average": os.getloadavg(),
    }


def _round(
    python: str,
    backend: backends.Backend,
    data_dir: Path,
    restarts: int,
    first: list[float],
    restart: list[float],
    idle_mb: list[float],
) -> None:
    log = data_dir / "serve.log"
    server = medianest_server("medianest", backend.env, log, python)
    server.start("/api/health")
    server.stop()
    first.append(server.startup_seconds)
    for _ in range(restarts):
        server = medianest_server("medianest", backend.env, log, python)
        server.start("/api/health")
        try:
            time.sleep(IDLE_AFTER_SECONDS)
            idle_mb.append(server.rss_bytes() / MB)
        finally:
            server.stop()
        restart.append(server.startup_seconds)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--interpreter", choices=("runtime", "current"), default="runtime")
    args = parser.parse_args(argv)
    python = runtime_python() if args.interpreter == "runtime" else sys.executable
    print(json.dumps(measure(python, args.rounds, args.restarts, args.backend), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
