"""Every page and list a signed-in admin opens, with a realistic data set, each as a ratio
to bare FastAPI and bare Starlette measured in the same run (issue 25, item 1).

`python -m bench.whole_app [sqlite,postgres] [seconds] [connections] [path,path,...] [--rounds N]
[--without-layers] [--gzip] [--revalidate]`
(the paths: only those endpoints' cells, for a quicker look; default every endpoint;
`--rounds`: paired rounds per endpoint, default 1, their median reported;
`--without-layers`: each round also measures the endpoint on MediaNest's FastAPI app with
none of the layers ahead of it, bench/fastapi_alone.py, served beside the whole app on the
same database: what the layers cost, and what a route reaches through FastAPI without them;
`--gzip`: every request, the baselines' too, says `Accept-Encoding: gzip, deflate, br, zstd`
as a browser does, so MediaNest's answers of 1 kB or more come compressed; `--revalidate`:
an endpoint whose answer carries an ETag is asked with `If-None-Match` and that tag, as a
browser's poll of an unchanged answer asks, and answers 304; pages, which a navigation
never revalidates, are asked as before)

Data (written with the app's models straight into its database, as a year of use leaves
it; the services would call Overseerr and Plex for each row): 20 users, 2,000 media
requests, 2,000 finished downloads of 10 items each, 200 subscriptions, and the Plex
simulator's movie library grown to 5,000 items. The app is served by `medianest serve`
(uvicorn, one process) against the simulators; wrk (Debian package) drives each
endpoint at `connections` (default 50) for `seconds` (default 3), right after the bare
Starlette and bare FastAPI endpoints at the same concurrency (a paired round); with
`--rounds N`, N such rounds and the median of each ratio (on a machine whose speed moves
from minute to minute one round's ratio moved by a third), the worst round's p99, and
bare FastAPI's own ratio to bare Starlette, the ceiling of any route served through
FastAPI's routing. Per
endpoint: requests per second, its ratios to both baselines, p50/p99 under load, one
unloaded request's server time (p50 of 20 sequential requests), and server CPU per
request (the server process's CPU time over the cell / requests answered).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import backends
from bench.load import run_load, tool_name
from bench.processes import Server, bare_server, medianest_server
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.media.models import MediaRequest
from medianest.youtube.models import JobItem, YoutubeDownload, YoutubeSubscription
from medianest_simulators.plex_library import MOVIES_SECTION, Item
from medianest_simulators.suite import SimulatorSuite

USERS = 20
MEDIA_REQUESTS = 2_000
DOWNLOADS = 2_000
ITEMS_PER_DOWNLOAD = 10
SUBSCRIPTIONS = 200
PLEX_ITEMS = 5_000

API = (
    "/api/auth/session",
    "/api/dashboard/status",
    "/api/media/requests",
    "/api/plex/libraries",
    f"/api/plex/library/{MOVIES_SECTION}/items",
    "/api/youtube/downloads",
    "/api/youtube/subscriptions",
    "/api/notifications",
    "/api/admin/users",
    "/api/admin/services",
)
PAGES = (
    "/dashboard",
    "/media",
    "/media/requests",
    "/plex",
    "/youtube",
    "/youtube/subscriptions",
    "/notifications",
    "/admin",
    "/admin/system",
)


def _grow_plex_library(suite: SimulatorSuite) -> None:
    with suite.plex.lock:
        library = suite.plex.library
        for n in range(PLEX_ITEMS):
            rk = 900_000 + n  # above every seeded ratingKey
            title = f"Benchmark Feature {n:04d}"
            library.items[rk] = Item(
                rk,
                MOVIES_SECTION,
                "movie",
                title,
                year=1950 + n % 70,
                summary=f"{title}, a film of the benchmark library.",
                added_at=1_600_000_000 + n * 60,
                duration=5_400_000,
                content_rating="PG",
                rating=5.0 + (n % 50) / 10,
                file=f"/data/movies/{title}/{title}.mkv",
                size=1 << 30,
            )


async def _seed(database_url: str, admin_id: str) -> None:
    engine = create_engine(database_url)
    now = utcnow()
    try:
        async with session_scope(create_session_factory(engine)) as session:
            users = [uuid.UUID(admin_id)]
            for n in range(USERS - 1):
                user = User(username=f"member{n:02d}", plex_id=str(50_000 + n), role="user")
                session.add(user)
                await session.flush()
                users.append(user.id)
            for n in range(MEDIA_REQUESTS):
                session.add(
                    MediaRequest(
                        user_id=users[n % USERS],
                        title=f"Requested film {n}",
                        media_type="movie" if n % 3 else "tv",
                        tmdb_id=200_000 + n,
                        status=("pending", "approved", "available")[n % 3],
                        overseerr_id=300_000 + n,
                    )
                )
            for n in range(DOWNLOADS):
                items = [
                    JobItem(
                        index=i,
                        key=f"clip-{n}-{i}",
                        title=f"Clip {i} of playlist {n}",
                        url=f"https://www.youtube.com/watch?v={n:05d}{i:02d}",
                        file=f"{i + 1:03d} - Clip {i}.mp4",
                        state="completed",
                        error=None,
                        error_kind=None,
                        bytes=5_000_000,
                        progress=100,
                    )
                    for i in range(ITEMS_PER_DOWNLOAD)
                ]
                session.add(
                    YoutubeDownload(
                        user_id=users[n % USERS],
                        url=f"https://www.youtube.com/playlist?list=PLbench{n:05d}",
                        title=f"Playlist {n}",
                        status="completed",
                        progress=100.0,
                        items=items,
                        delivery="collection",
                        bytes_downloaded=ITEMS_PER_DOWNLOAD * 5_000_000,
                        completed_at=now - timedelta(minutes=n),
                    )
                )
            for n in range(SUBSCRIPTIONS):
                session.add(
                    YoutubeSubscription(
                        user_id=users[n % USERS],
                        url=f"https://www.youtube.com/playlist?list=PLsub{n:05d}",
                        title=f"Channel {n}",
                        next_check_at=now + timedelta(hours=6),
                    )
                )
    finally:
        await engine.dispose()


# What a browser says it decodes (Chromium's Accept-Encoding), for `--gzip`.
BROWSER_ENCODINGS = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def _headers(cookie: str, extra_headers: dict[str, str] | None) -> dict[str, str]:
    """A request's headers: the session cookie (none for a baseline), then `extra_headers`."""
    return {**({"Cookie": cookie} if cookie else {}), **(extra_headers or {})}


def _server_time_ms(
    url: str, cookie: str, count: int = 20, extra_headers: dict[str, str] | None = None
) -> float:
    """p50 of `count` sequential requests, one at a time (no load)."""
    seconds = []
    with httpx.Client(headers=_headers(cookie, extra_headers), timeout=30) as http:
        http.get(url)
        for _ in range(count):
            started = time.perf_counter()
            http.get(url)
            seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds) * 1000, 2)


def _answer_shape(url: str, cookie: str, extra_headers: dict[str, str] | None) -> dict[str, Any]:
    """What one answer was: its status, its bytes on the wire and its Content-Encoding
    (shows that `--gzip`'s answers came compressed and `--revalidate`'s as 304s)."""
    with (
        httpx.Client(headers=_headers(cookie, extra_headers), timeout=30) as http,
        http.stream("GET", url) as response,
    ):
        wire = b"".join(response.iter_raw())
        return {
            "status": response.status_code,
            "wire_bytes": len(wire),
            "content_encoding": response.headers.get("content-encoding", "identity"),
        }


def _revalidating(url: str, cookie: str, extra_headers: dict[str, str]) -> dict[str, str]:
    """`extra_headers` and, when the answer carries an ETag, If-None-Match with it. (An
    answer that changes by itself, as the Plex page's "read N s ago" does every second,
    is then mostly a 200: the row's status shows what came back.)"""
    with httpx.Client(headers=_headers(cookie, extra_headers), timeout=30) as http:
        etag = http.get(url).headers.get("etag")
    return extra_headers if etag is None else {**extra_headers, "If-None-Match": etag}


def _cell(
    server: Server,
    path: str,
    connections: int,
    seconds: float,
    cookie: str,
    extra_headers: dict[str, str],
) -> dict[str, Any]:
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    headers = _headers(cookie, extra_headers)
    run_load(server.url + path, connections=connections, seconds=1, headers=headers)  # warm
    before = process.cpu_times()
    result = run_load(server.url + path, connections=connections, seconds=seconds, headers=headers)
    after = process.cpu_times()
    per_request = 1000 / max(1, result.requests)
    user, system = after.user - before.user, after.system - before.system
    figures = result.as_dict()
    figures["cpu_ms_per_request"] = round((user + system) * per_request, 3)
    # Told apart: the kernel's share (the socket, stat calls) against the interpreter's.
    figures["cpu_user_ms_per_request"] = round(user * per_request, 4)
    figures["cpu_system_ms_per_request"] = round(system * per_request, 4)
    return figures


def _paired_round(
    starlette: Server,
    fastapi: Server,
    app: Server,
    path: str,
    connections: int,
    seconds: float,
    cookie: str,
    without_layers: Server | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One round: bare Starlette, bare FastAPI, then the endpoint, back to back (and
    then the endpoint of the FastAPI app alone, when given)."""
    extra = extra_headers or {}
    base_starlette = _cell(starlette, "/bare", connections, seconds, "", extra)
    base_fastapi = _cell(fastapi, "/bare", connections, seconds, "", extra)
    measured = _cell(app, path, connections, seconds, cookie, extra)
    rate = measured["requests_per_second"]
    row = {
        **measured,
        "ratio_to_starlette": round(rate / base_starlette["requests_per_second"], 3),
        "ratio_to_fastapi": round(rate / base_fastapi["requests_per_second"], 3),
        "fastapi_to_starlette": round(
            base_fastapi["requests_per_second"] / base_starlette["requests_per_second"], 3
        ),
        "starlette_cpu_user_ms_per_request": base_starlette["cpu_user_ms_per_request"],
        "starlette_cpu_system_ms_per_request": base_starlette["cpu_system_ms_per_request"],
    }
    if without_layers is not None:
        alone = _cell(without_layers, path, connections, seconds, cookie, extra)
        row["without_layers_to_starlette"] = round(
            alone["requests_per_second"] / base_starlette["requests_per_second"], 3
        )
    return row


def _median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the paired rounds; p99 the worst round's (the
    target is on every answer's tail, not the typical round's)."""
    row: dict[str, Any] = {"rounds": rounds}
    for figure in (
        "requests_per_second",
        "ratio_to_starlette",
        "ratio_to_fastapi",
        "fastapi_to_starlette",
        "without_layers_to_starlette",
        "p50_ms",
        "cpu_ms_per_request",
        "cpu_user_ms_per_request",
        "cpu_system_ms_per_request",
        "starlette_cpu_user_ms_per_request",
        "starlette_cpu_system_ms_per_request",
    ):
        if figure in rounds[0]:
            row[figure] = round(statistics.median(r[figure] for r in rounds), 3)
    row["p99_ms"] = max(r["p99_ms"] for r in rounds)
    row["errors"] = sum(r["errors"] for r in rounds)
    return row


def run_backend(
    name: str,
    seconds: float,
    connections: int,
    paths: tuple[str, ...] = (*API, *PAGES),
    rounds: int = 1,
    without_layers: bool = False,
    extra_headers: dict[str, str] | None = None,
    revalidate: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medianest-bench-app-") as tmp:
        root = Path(tmp)
        backend: backends.Backend | str = (
            backends.embedded(root / "data")
            if name == "sqlite"
            else backends.postgres_redis(root / "data")
        )
        if isinstance(backend, str):
            return {"skipped": backend}
        servers: list[Server] = []
        try:
            with SimulatorSuite(youtube_dir=root / "youtube") as suite:
                _grow_plex_library(suite)
                env = {
                    **backend.env,
                    **suite.info.env(),
                    "MEDIANEST_LOG_LEVEL": "WARNING",
                    "MEDIANEST_RUN_WORKER_IN_PROCESS": "false",
                }
                env["MEDIANEST_ADMIN_PASSWORD"] = backends.BOOTSTRAP_PASSWORD
                app = medianest_server(f"medianest-{name}", env, root / "medianest.log")
                servers.append(app.start("/api/health", timeout=240))
                admin_id, cookie = backends.sign_in(app.url)
                asyncio.run(_seed(backend.database_url, admin_id))
                starlette = bare_server(root / "starlette.log")
                fastapi = bare_server(root / "fastapi.log", app="bench.bare_fastapi:app")
                servers += [starlette.start("/bare"), fastapi.start("/bare")]
                alone = None
                if without_layers:
                    alone = _fastapi_alone(env, root / "fastapi-alone.log")
                    servers.append(alone.start("/api/health", timeout=240))
                rows: dict[str, Any] = {}
                server_log = root / "medianest.log"
                for path in paths:
                    log_read_to = server_log.stat().st_size
                    headers = extra_headers or {}
                    if revalidate:
                        headers = _revalidating(app.url + path, cookie, headers)
                    rounds_of_path = [
                        _paired_round(
                            starlette,
                            fastapi,
                            app,
                            path,
                            connections,
                            seconds,
                            cookie,
                            alone,
                            headers,
                        )
                        for _ in range(rounds)
                    ]
                    rows[path] = {
                        **_median_of_rounds(rounds_of_path),
                        "server_time_p50_ms": _server_time_ms(
                            app.url + path, cookie, extra_headers=headers
                        ),
                        **_answer_shape(app.url + path, cookie, headers),
                        "loop_blocked": _loop_holds(server_log, log_read_to),
                    }
                return {
                    "request_headers": sorted(extra_headers or {}),
                    "revalidate": revalidate,
                    "connections": connections,
                    "seconds": seconds,
                    "rounds": rounds,
                    "endpoints": rows,
                }
        finally:
            for server in servers:
                server.stop()
            backends.drop(backend)


def _loop_holds(server_log: Path, offset: int) -> list[dict[str, Any]]:
    """The holds of the event loop the server logged (core/loop_watch.py, over 100 ms)
    since `offset` of its log: how long, and the innermost frame seen most."""
    with server_log.open("rb") as log:
        log.seek(offset)
        lines = log.read().splitlines()
    holds = []
    for line in lines:
        if b"event_loop_blocked" not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut by a rotation or a crash: not a hold to report
            continue
        holds.append({"ms": entry["blocked_ms"], "where": entry["where"][-1]})
    return holds


def _fastapi_alone(env: dict[str, str], log: Path) -> Server:
    """MediaNest's FastAPI app without its layers (bench/fastapi_alone.py), served as
    the baselines are, on the same database as the whole app."""
    return bare_server(log, app="bench.fastapi_alone:app", env=env)


def table(result: dict[str, Any]) -> str:
    lines = []
    for name in ("sqlite", "postgres"):
        if name not in result or "endpoints" not in result[name]:
            continue
        rounds = result[name].get("rounds", 1)
        lines.append(
            f"\n{name}: GET at {result[name]['connections']} connections, "
            f"median of {rounds} paired round(s), p99 the worst round's"
        )
        rows = result[name]["endpoints"]
        alone = any("without_layers_to_starlette" in row for row in rows.values())
        lines.append(
            "| GET | req/s | ÷ FastAPI | ÷ Starlette | p50 | p99 | one request | CPU/req "
            "| FastAPI ÷ Starlette |" + (" without layers ÷ Starlette |" if alone else "")
        )
        lines.append("|---|---|---|---|---|---|---|---|---|" + ("---|" if alone else ""))
        for path, row in rows.items():
            lines.append(
                f"| {path} | {row['requests_per_second']:.0f} | {row['ratio_to_fastapi']:.3f} "
                f"| {row['ratio_to_starlette']:.3f} | {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms "
                f"| {row['server_time_p50_ms']:.1f} ms | {row['cpu_ms_per_request']:.2f} ms "
                f"| {row.get('fastapi_to_starlette', float('nan')):.3f} |"
                + (f" {row['without_layers_to_starlette']:.3f} |" if alone else "")
            )
        held = [
            f"- {path}: {hold['ms']:.0f} ms, at {hold['where']}"
            for path, row in rows.items()
            for hold in row.get("loop_blocked", [])
        ]
        lines.append("\nEvent loop held over 100 ms (the server's `event_loop_blocked` lines):")
        lines += held or ["- never"]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if tool_name() is None:
        sys.exit("wrk is missing: apt-get install wrk")
    parser = argparse.ArgumentParser(prog="python -m bench.whole_app")
    parser.add_argument("backends", nargs="?", default="sqlite,postgres")
    parser.add_argument("seconds", nargs="?", type=float, default=3.0)
    parser.add_argument("connections", nargs="?", type=int, default=50)
    parser.add_argument("paths", nargs="?", default=",".join((*API, *PAGES)))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--without-layers",
        action="store_true",
        help="also serve MediaNest's FastAPI app without the layers ahead of it "
        "(bench/fastapi_alone.py) and measure each endpoint there too",
    )
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="every request says Accept-Encoding: gzip, deflate, br, zstd, as a browser does",
    )
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="ask an endpoint whose answer has an ETag with If-None-Match and that tag "
        "(a browser's poll of an unchanged answer: 304)",
    )
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"command": "python -m bench.whole_app " + " ".join(argv)}
    result["load_start"] = os.getloadavg()
    for name in args.backends.split(","):
        result[name] = run_backend(
            name,
            args.seconds,
            args.connections,
            tuple(args.paths.split(",")),
            args.rounds,
            without_layers=args.without_layers,
            extra_headers=BROWSER_ENCODINGS if args.gzip else None,
            revalidate=args.revalidate,
        )
    result["load_end"] = os.getloadavg()
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "whole_app.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\nload average {result['load_start']} → {result['load_end']}")


if __name__ == "__main__":
    main(sys.argv[1:])
