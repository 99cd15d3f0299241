"""Download-queue overhead per job: enqueue -> claim -> complete through the real
`youtube_downloads` queue with a no-op downloader, against calling the no-op directly
(the baseline, measured in the same run). SQLite always; PostgreSQL when reachable.

    python -m bench.queue_overhead [jobs]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import backends
from medianest.auth.models import User
from medianest.db import migrate
from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.settings import Settings
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import YoutubeDownload

DEFAULT_JOBS = 200


async def noop_download(job_id: uuid.UUID) -> None:
    """What a worker would do with the job, minus the work."""
    await asyncio.sleep(0)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
    }


async def _measure(database_url: str, jobs: int) -> dict[str, Any]:
    await migrate.upgrade_async(database_url)
    settings = Settings(
        database_url=database_url,
        worker_concurrency=1000,
        worker_per_user_concurrency=1,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    queue = JobQueue(factory, settings, worker_id="bench-worker")
    try:
        async with session_scope(factory) as session:
            user = User(username=f"bench-{uuid.uuid4().hex[:6]}", email=None, role="user")
            session.add(user)
        # Baseline: the no-op called directly.
        direct: list[float] = []
        for _ in range(jobs):
            started = time.perf_counter()
            await noop_download(uuid.uuid4())
            direct.append(time.perf_counter() - started)
        # Through the queue: commit the row (as the API does), claim it, run, complete.
        queued: list[float] = []
        parts: dict[str, list[float]] = {"enqueue": [], "claim": [], "complete": []}
        for n in range(jobs):
            t0 = time.perf_counter()
            async with session_scope(factory) as session:
                session.add(YoutubeDownload(user_id=user.id, url=f"https://bench/{n}", items=[]))
            t1 = time.perf_counter()
            job_id = await queue.claim()
            assert job_id is not None
            t2 = time.perf_counter()
            await noop_download(job_id)
            t3 = time.perf_counter()
            await queue.finish(job_id, status="completed", progress=100.0)
            t4 = time.perf_counter()
            queued.append(t4 - t0)
            parts["enqueue"].append(t1 - t0)
            parts["claim"].append(t2 - t1)
            parts["complete"].append(t4 - t3)
        # An idle worker's poll: a claim that finds nothing.
        empty: list[float] = []
        for _ in range(50):
            started = time.perf_counter()
            assert await queue.claim() is None
            empty.append(time.perf_counter() - started)
        overhead = statistics.fmean(queued) - statistics.fmean(direct)
        return {
            "jobs": jobs,
            "direct_noop": _percentiles(direct),
            "queued_noop": _percentiles(queued),
            "overhead_per_job_ms": round(overhead * 1000, 3),
            "stages": {name: _percentiles(values) for name, values in parts.items()},
            "empty_claim": _percentiles(empty),
        }
    finally:
        await engine.dispose()


def run(jobs: int = DEFAULT_JOBS) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'queue.db'}"
        results["sqlite"] = asyncio.run(_measure(url, jobs))
    try:
        name, pg_url = asyncio.run(backends._create_pg_database())
    except (OSError, TimeoutError, Exception) as exc:  # unreachable PostgreSQL is reported
        results["postgresql"] = {"skipped": f"PostgreSQL unreachable: {type(exc).__name__}"}
        return results
    try:
        results["postgresql"] = asyncio.run(_measure(pg_url, jobs))
    finally:
        asyncio.run(backends._drop_pg_database(name))
    return results


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_JOBS
    print(json.dumps(run(count), indent=2))
