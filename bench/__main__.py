"""`python -m bench`: throughput and latency of MediaNest's hot endpoints, each as a
ratio to a bare Starlette endpoint served the same way (uvicorn, one process,
loopback) in the same run; plus startup time and idle/loaded RSS, on the embedded
default (SQLite, no Redis) and on PostgreSQL + Redis when reachable.

Writes a table to stdout and JSON to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import backends
from bench.load import run_load, tool_name
from bench.processes import PeakRss, Server, bare_server, medianest_server, runtime_python

RESULTS = Path(__file__).with_name("results")
ENDPOINTS = {
    "dashboard_status": "/api/dashboard/status",
    "auth_session": "/api/auth/session",
    "media_requests": "/api/media/requests",
}
EXTRA_MODULES = ("socket_push", "kuma_push", "queue_overhead")
MB = 1024 * 1024
# Targets from issue 10.
TARGET_RATIO = 0.5
TARGET_P99_MS_AT_50 = 25.0
TARGET_IDLE_RSS_MB = 120.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (default 5)")
    parser.add_argument("--levels", default="10,50,200", help="concurrent clients")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="sqlite and/or postgres (+ Redis)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="paired (bare Starlette, dashboard) measurements per cell; medians reported",
    )
    parser.add_argument("--no-extras", action="store_true", help="skip socket/queue modules")
    parser.add_argument(
        "--interpreter",
        choices=("runtime", "current"),
        default="runtime",
        help="serve from a venv with the runtime dependencies only (default) or this Python",
    )
    return parser.parse_args(argv)


BASELINES = {
    "starlette": "bench.bare_app:app",
    "fastapi": "bench.bare_fastapi:app",
    "request_layer": "bench.bare_request_layer:app",
}


def start_bare(scratch: Path, python: str, name: str) -> tuple[Server, dict[str, Any]]:
    server = bare_server(scratch / f"bare-{name}.log", python, BASELINES[name]).start("/bare")
    time.sleep(1)
    run_load(server.url + "/bare", connections=10, seconds=1, headers={})  # warm-up
    return server, {
        "startup_seconds": round(server.startup_seconds, 3),
        "idle_rss_mb": round(server.rss_bytes() / MB, 1),
    }


# Each cell is preceded by this much load at the same concurrency, not measured: a new
# wrk run opens all its connections at once, and the first requests on fresh
# connections are not what a steady client sees (baselines and MediaNest alike).
WARM_UP_SECONDS = 1.0


def measure_cell(
    server: Server, url: str, connections: int, seconds: float, headers: dict[str, str]
) -> dict[str, Any]:
    """A cell, plus the server's CPU time per request (user + system) over the measured
    part: what each answer costs, whatever share of the CPUs the server got meanwhile."""
    run_load(url, connections=connections, seconds=WARM_UP_SECONDS, headers=headers)
    process = psutil.Process(server.process.pid if server.process else None)
    before = process.cpu_times()
    result = run_load(url, connections=connections, seconds=seconds, headers=headers).as_dict()
    after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    result["cpu_us_per_request"] = round(cpu / max(1, result["requests"]) * 1e6, 1)
    return result


def measure_bare(server: Server, levels: list[int], seconds: float) -> dict[str, Any]:
    """The baseline, measured again right before each backend so both see the same machine."""
    with PeakRss(server) as peak:
        runs = {str(c): measure_cell(server, server.url + "/bare", c, seconds, {}) for c in levels}
    return {"loaded_rss_mb": round(peak.peak / MB, 1), "runs": runs}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput, with every round's figures beside it."""
    ordered = sorted(runs, key=lambda run: run["requests_per_second"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = [
        {k: run[k] for k in ("requests_per_second", "p50_ms", "p99_ms", "cpu_us_per_request")}
        for run in runs
    ]
    return chosen


def measure_paired(
    bare: Server,
    server: Server,
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str],
    rounds: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`rounds` times: bare Starlette, then the target, back to back at the same
    concurrency. The ratio is the median of the rounds' ratios: the machine's speed moves
    by 10-40 % from minute to minute here (other tenants), far less within ten seconds."""
    bare_runs, target_runs, ratios, cpu_ratios = [], [], [], []
    for _ in range(rounds):
        baseline = measure_cell(bare, bare.url + "/bare", connections, seconds, {})
        target = measure_cell(server, url, connections, seconds, headers)
        bare_runs.append(baseline)
        target_runs.append(target)
        ratios.append(target["requests_per_second"] / baseline["requests_per_second"])
        cpu_ratios.append(baseline["cpu_us_per_request"] / target["cpu_us_per_request"])
    run = median_run(target_runs)
    run["ratio_to_bare"] = round(sorted(ratios)[len(ratios) // 2], 3)
    run["ratio_to_bare_rounds"] = [round(r, 3) for r in ratios]
    # Requests per CPU-second as a share of bare Starlette's: less moved by other tenants.
    run["cpu_ratio_to_bare"] = round(sorted(cpu_ratios)[len(cpu_ratios) // 2], 3)
    run["cpu_ratio_to_bare_rounds"] = [round(r, 3) for r in cpu_ratios]
    return median_run(bare_runs), run


def measure_medianest(
    backend: backends.Backend,
    levels: list[int],
    seconds: float,
    scratch: Path,
    python: str,
    bare: Server,
    rounds: int,
) -> dict[str, Any]:
    """First start (migrations, bootstrap admin), sign-in and seed; then a restart on
    that database, which is what a server runs as for weeks: measured from there.
    The dashboard (the target) is measured in `rounds` pairs with bare Starlette per
    level, the other endpoints in one pair each."""
    log = scratch / f"{backend.name}.log"
    first = medianest_server(f"medianest-{backend.name}", backend.env, log, python)
    first.start("/api/health")
    try:
        user_id, cookie = backends.sign_in(first.url)
        backends.seed(backend, user_id)
    finally:
        first.stop()
    server = medianest_server(f"medianest-{backend.name}", backend.env, log, python)
    server.start("/api/health")
    bare_by_level: dict[str, dict[str, Any]] = {}
    try:
        headers = {"Cookie": cookie}
        time.sleep(2)
        idle = server.rss_bytes()
        endpoints: dict[str, dict[str, Any]] = {}
        with PeakRss(server) as peak:
            for name, path in ENDPOINTS.items():
                endpoints[name] = {}
                for c in levels:
                    times = rounds if name == "dashboard_status" else 1
                    paired_bare, run = measure_paired(
                        bare, server, server.url + path, c, seconds, headers, times
                    )
                    endpoints[name][str(c)] = run
                    if name == "dashboard_status":
                        bare_by_level[str(c)] = paired_bare
    finally:
        server.stop()
    return {
        "first_startup_seconds": round(first.startup_seconds, 3),
        "startup_seconds": round(server.startup_seconds, 3),
        "idle_rss_mb": round(idle / MB, 1),
        "loaded_rss_mb": round(peak.peak / MB, 1),
        "endpoints": endpoints,
        "paired_bare_runs": bare_by_level,
    }


def add_ratios(
    result: dict[str, Any],
    bare: dict[str, Any],
    fastapi: dict[str, Any],
    request_layer: dict[str, Any],
) -> None:
    """`ratio_to_bare` comes from the paired measurement; the FastAPI and request-layer
    baselines, context only, were measured once per level before MediaNest started."""
    for runs in result["endpoints"].values():
        for level, run in runs.items():
            framework = fastapi["runs"][level]["requests_per_second"]
            run["ratio_to_fastapi"] = round(run["requests_per_second"] / framework, 3)
            floor = request_layer["runs"][level]["requests_per_second"]
            run["ratio_to_request_layer"] = round(run["requests_per_second"] / floor, 3)


def run_extras() -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for name in EXTRA_MODULES:
        if importlib.util.find_spec(f"bench.{name}") is None:
            continue
        started = time.perf_counter()
        try:
            extras[name] = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # one broken extra must not lose the main figures
            extras[name] = {"error": f"{type(exc).__name__}: {exc}"}
        extras[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
    return extras


def targets(results: dict[str, Any]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for name, result in results["backends"].items():
        if "endpoints" not in result:
            continue
        dashboard = result["endpoints"]["dashboard_status"]
        ratios = [run["ratio_to_bare"] for run in dashboard.values()]
        at_50 = dashboard.get("50")
        checks[name] = {
            "dashboard_ratio_min": min(ratios),
            "dashboard_ratio_ok": min(ratios) >= TARGET_RATIO,
            # Requests per CPU-second against bare Starlette's (same pairs): the cost of an
            # answer, less moved than req/s by what else runs on the machine.
            "dashboard_cpu_ratio_min": min(run["cpu_ratio_to_bare"] for run in dashboard.values()),
            "dashboard_p99_ms_at_50": at_50["p99_ms"] if at_50 else None,
            "dashboard_p99_ok_at_50": bool(at_50) and at_50["p99_ms"] < TARGET_P99_MS_AT_50,
            "idle_rss_ok": result["idle_rss_mb"] < TARGET_IDLE_RSS_MB,
            # Context for the ratio: what bare FastAPI itself reaches against bare Starlette,
            # and bare Starlette inside MediaNest's request layer (log line, metrics, headers).
            "bare_fastapi_ratio_min": _baseline_ratio(result, "bare_fastapi"),
            "bare_request_layer_ratio_min": _baseline_ratio(result, "bare_request_layer"),
        }
    return checks


def _baseline_ratio(result: dict[str, Any], name: str) -> float:
    return round(
        min(
            run["requests_per_second"] / result["bare"]["runs"][level]["requests_per_second"]
            for level, run in result[name]["runs"].items()
        ),
        3,
    )


def print_table(results: dict[str, Any]) -> None:
    bare = results["bare"]
    print(
        f"\nload tool: {results['meta']['tool']}, {results['meta']['seconds']}s per cell, "
        f"dashboard: median of {results['meta']['rounds']} rounds paired with bare Starlette, "
        f"{results['meta']['cpus']} CPUs shared by server and load tool, loopback, "
        f"load average {results['meta']['load_average_at_start'][0]} at start"
    )
    header = f"{'target':<28}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'errors':>8}{'vs bare':>9}{'vs FastAPI':>12}{'vs layer':>10}"
    header += f"{'CPU us/req':>11}{'CPU vs bare':>12}"
    print(header)
    print("-" * len(header))
    for backend, result in results["backends"].items():
        if "endpoints" not in result:
            print(f"{backend}: skipped ({result.get('skipped')})")
            continue
        for level, run in result["bare"]["runs"].items():
            print(
                f"{'bare starlette':<28}{level:>8}{run['requests_per_second']:>10.0f}"
                f"{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}{run['errors']:>8}{'1.00':>9}"
                f"{'':>12}{'':>10}{run.get('cpu_us_per_request', 0.0):>11.1f}{'1.00':>12}"
            )
        for label, key in (
            ("bare fastapi", "bare_fastapi"),
            ("bare + request layer", "bare_request_layer"),
        ):
            for level, run in result[key]["runs"].items():
                ratio = (
                    run["requests_per_second"]
                    / result["bare"]["runs"][level]["requests_per_second"]
                )
                print(
                    f"{label:<28}{level:>8}{run['requests_per_second']:>10.0f}"
                    f"{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}{run['errors']:>8}{ratio:>9.2f}"
                )
        for endpoint, runs in result["endpoints"].items():
            for level, run in runs.items():
                label = f"{backend} {endpoint}"
                print(
                    f"{label:<28}{level:>8}{run['requests_per_second']:>10.0f}"
                    f"{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}{run['errors']:>8}"
                    f"{run['ratio_to_bare']:>9.2f}{run['ratio_to_fastapi']:>12.2f}"
                    f"{run['ratio_to_request_layer']:>10.2f}"
                    f"{run['cpu_us_per_request']:>11.1f}{run['cpu_ratio_to_bare']:>12.2f}"
                )
    print()
    print(
        f"{'process':<28}{'first start s':>14}{'restart s':>10}{'idle RSS MB':>13}"
        f"{'loaded RSS MB':>15}"
    )
    loaded = max(
        (r["bare"]["loaded_rss_mb"] for r in results["backends"].values() if "bare" in r),
        default=0.0,
    )
    for label, baseline in (
        ("bare starlette", bare),
        ("bare fastapi", results["bare_fastapi"]),
        ("bare + request layer", results["bare_request_layer"]),
    ):
        print(
            f"{label:<28}{'':>14}{baseline['startup_seconds']:>10.2f}"
            f"{baseline['idle_rss_mb']:>13.1f}{loaded if label == 'bare starlette' else 0:>15.1f}"
        )
    for backend, result in results["backends"].items():
        if "endpoints" in result:
            print(
                f"{'medianest ' + backend:<28}{result['first_startup_seconds']:>14.2f}"
                f"{result['startup_seconds']:>10.2f}"
                f"{result['idle_rss_mb']:>13.1f}{result['loaded_rss_mb']:>15.1f}"
            )
    for name, extra in results["extras"].items():
        print(f"\n{name}: {json.dumps(extra)}")
    print(f"\ntargets: {json.dumps(results['targets'], indent=2)}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if tool_name() is None:
        print(
            "python -m bench: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr
        )
        return 2
    levels = [int(n) for n in args.levels.split(",")]
    wanted = set(args.backends.split(","))
    results: dict[str, Any] = {
        "meta": {
            "created_at": datetime.now(UTC).isoformat(),
            "tool": tool_name(),
            "seconds": args.seconds,
            "rounds": args.rounds,
            "levels": levels,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other processes on the machine skew absolute figures; ratios less so.
            "load_average_at_start": [round(n, 2) for n in os.getloadavg()],
            "command": "python -m bench " + " ".join(argv),
            "interpreter": args.interpreter,
        },
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as scratch_name:
        scratch = Path(scratch_name)
        python = runtime_python() if args.interpreter == "runtime" else sys.executable
        print("starting the baselines (bare Starlette, FastAPI, request layer) ...", flush=True)
        bare, results["bare"] = start_bare(scratch, python, "starlette")
        framework, results["bare_fastapi"] = start_bare(scratch, python, "fastapi")
        layer, results["bare_request_layer"] = start_bare(scratch, python, "request_layer")
        try:
            candidates: list[backends.Backend | tuple[str, str]] = []
            if "sqlite" in wanted:
                candidates.append(backends.embedded(scratch / "sqlite"))
            if "postgres" in wanted:
                found = backends.postgres_redis(scratch / "postgres")
                candidates.append(
                    found if isinstance(found, backends.Backend) else ("postgres+redis", found)
                )
            for candidate in candidates:
                if isinstance(candidate, tuple):
                    results["backends"][candidate[0]] = {"skipped": candidate[1]}
                    continue
                print(
                    f"measuring bare Starlette, then MediaNest on {candidate.name} ...", flush=True
                )
                baseline = measure_bare(bare, levels, args.seconds)
                framework_baseline = measure_bare(framework, levels, args.seconds)
                layer_baseline = measure_bare(layer, levels, args.seconds)
                try:
                    result = measure_medianest(
                        candidate, levels, args.seconds, scratch, python, bare, args.rounds
                    )
                finally:
                    backends.drop(candidate)
                # The bare figures shown are the median of those paired with the dashboard.
                baseline["runs"] = result.pop("paired_bare_runs")
                result["bare"] = baseline
                result["bare_fastapi"] = framework_baseline
                result["bare_request_layer"] = layer_baseline
                add_ratios(result, baseline, framework_baseline, layer_baseline)
                results["backends"][candidate.name] = result
        finally:
            bare.stop()
            framework.stop()
            layer.stop()
    results["extras"] = {} if args.no_extras else run_extras()
    results["targets"] = targets(results)
    results["meta"]["load_average_at_end"] = [round(n, 2) for n in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
