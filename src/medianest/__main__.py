"""The `medianest` command's entry (and `python -m medianest`).

Four libraries every MediaNest process loads import optional extras it never uses:
python-socketio's `__init__` loads its client half, which imports requests and aiohttp
when installed, and its Redis managers, which import redis; httpx's `__init__` loads its
command line (rich, pygments, click); structlog loads rich for tracebacks; uvicorn loads
watchfiles, which only `serve --reload` uses. Each falls back when the import fails, so
the entry makes those imports fail while the four load: less memory in every process and
a shorter start (docs/performance.md). Nothing is left
blocked: whatever needs them later imports them as usual (web push imports requests on
first use; with Redis configured, MediaNest's own modules import redis and hand it to
python-socketio's manager, core/realtime.py). engineio's client keeps the None it got
for aiohttp: the live Uptime Kuma link hands it aiohttp on first use
(integrations/uptime_kuma_live.py).

One import stays blocked for the process's life: pydantic's copy of its first version,
which FastAPI imports as it builds each route (at import and again on the first request
that walks past it) only to ask whether a type is such a model. MediaNest has none, and
FastAPI answers no when the import fails.

What the entry loads lives as long as the process: it loads with young garbage
collections only and is frozen afterwards (`kept_for_good`), as `serve` does again with
its app."""

from __future__ import annotations

import importlib
import sys

from medianest.core.imports import absent, kept_for_good

UNUSED_OPTIONAL_IMPORTS = ("aiohttp", "requests", "httpx._main", "rich", "redis")
# uvicorn watches files for `--reload` with watchfiles, polling when it is missing.
ONLY_TO_RELOAD = ("watchfiles",)
LOADED_LEAN = ("httpx", "socketio", "structlog.dev", "structlog.tracebacks", "uvicorn")
NEVER_USED = ("pydantic.v1",)


def load_libraries_lean(arguments: list[str]) -> None:
    unused = UNUSED_OPTIONAL_IMPORTS + (() if "--reload" in arguments else ONLY_TO_RELOAD)
    with absent(unused):
        for module in LOADED_LEAN:
            importlib.import_module(module)


def main() -> None:
    with kept_for_good():
        load_libraries_lean(sys.argv[1:])
        for name in NEVER_USED:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
        from medianest.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
