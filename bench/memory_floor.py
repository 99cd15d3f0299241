"""What the libraries alone weigh: the idle RSS of `medianest serve` beside the RSS of a
process that imports the same modules that are not MediaNest's (the locked libraries and
the standard library), in the order `serve` imported them, and nothing of MediaNest's:
no routes, models, app, connections or background tasks. The difference is what
MediaNest's own code and running state cost; the floor is what no change inside MediaNest
takes away short of dropping a library.

Both are measured on the same backend and the same runtime virtualenv as `bench.startup`:
one first start (migrations), then a restart whose modules are listed at its first 200 on
`/api/health`, then `--restarts` restarts measured 2 s after their first 200, then the
floor process the same number of times.

    python -m bench.memory_floor [--backend sqlite|postgres] [--restarts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.support.servers import SERVE_AND_LIST_MODULES

from bench.processes import ROOT, free_port, medianest_server, runtime_python
from bench.startup import IDLE_AFTER_SECONDS, MB, new_backend

# The same modules without MediaNest's: loaded as the entry loads its libraries (the
# optional extras it keeps out stay out), then every listed module that is not
# MediaNest's, in order; the RSS after the same idle time as `serve`'s.
IMPORT_THE_LIBRARIES = textwrap.dedent(
    """
    import importlib, json, sys, time

    from medianest.__main__ import load_libraries_lean

    names, idle = json.loads(open(sys.argv[1]).read()), float(sys.argv[2])
    load_libraries_lean(["serve"])
    failed = []
    for name in names:
        if name.split(".")[0] in ("medianest", "__main__") or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    time.sleep(idle)
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    print(json.dumps({"rss": resident_pages * 4096, "failed": failed}))
    """
)


def _serve_module_list(python: str, env: dict[str, str], out: Path) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    subprocess.run(
        [python, "-c", SERVE_AND_LIST_MODULES, str(free_port()), str(out)],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    names: list[str] = json.loads(out.read_text())
    return names


def _floor_rss(python: str, env: dict[str, str], modules: Path) -> tuple[float, list[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    result = subprocess.run(
        [python, "-c", IMPORT_THE_LIBRARIES, str(modules), str(IDLE_AFTER_SECONDS)],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["rss"] / MB, answer["failed"]


def measure(python: str, backend_name: str, restarts: int) -> dict[str, Any]:
    from bench import backends

    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        backend = new_backend(backend_name, data_dir)
        try:
            env = {**backend.env, "PYTHONPATH": str(ROOT / "src")}
            log = Path(tmp) / "serve.log"
            first = medianest_server("medianest", env, log, python, src=ROOT / "src")
            first.start("/api/health")
            first.stop()
            names = _serve_module_list(python, env, Path(tmp) / "modules.json")
            serve_mb: list[float] = []
            for _ in range(restarts):
                server = medianest_server("medianest", env, log, python, src=ROOT / "src")
                server.start("/api/health")
                try:
                    time.sleep(IDLE_AFTER_SECONDS)
                    serve_mb.append(server.rss_bytes() / MB)
                finally:
                    server.stop()
            floor_mb: list[float] = []
            failed: list[str] = []
            for _ in range(restarts):
                rss, failed = _floor_rss(python, env, Path(tmp) / "modules.json")
                floor_mb.append(rss)
        finally:
            backends.drop(backend)
    loads.append(os.getloadavg())
    ours = [n for n in names if n.split(".")[0] == "medianest"]
    serve = statistics.median(serve_mb)
    floor = statistics.median(floor_mb)
    return {
        "backend": backend_name,
        "serve_idle_rss_mb": {"median": round(serve, 1), "all": [round(x, 1) for x in serve_mb]},
        "libraries_alone_rss_mb": {
            "median": round(floor, 1),
            "all": [round(x, 1) for x in floor_mb],
        },
        "medianest_share_mb": round(serve - floor, 1),
        "modules": {"all": len(names), "medianest": len(ours), "not_importable_alone": failed},
        "load_average": {"start": loads[0], "end": loads[-1]},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_floor", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--interpreter", choices=("runtime", "current"), default="runtime")
    args = parser.parse_args(argv)
    python = runtime_python() if args.interpreter == "runtime" else sys.executable
    print(json.dumps(measure(python, args.backend, args.restarts), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
