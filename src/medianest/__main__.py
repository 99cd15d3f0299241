"""The `medianest` command's entry (and `python -m medianest`).

Three libraries every MediaNest process loads import optional extras it never uses:
python-socketio's `__init__` loads its client half, which imports requests and aiohttp
when installed, and its Redis managers, which import redis; httpx's `__init__` loads its
command line (rich, pygments, click); structlog loads rich for tracebacks. Each falls back
when the import fails, so the entry makes those imports fail while the three load: ~23 MB
less in every process and a shorter start (docs/performance.md). Nothing is left
blocked: whatever needs them later imports them as usual (web push imports requests on
first use; with Redis configured, MediaNest's own modules import redis and hand it to
python-socketio's manager, core/realtime.py)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

UNUSED_OPTIONAL_IMPORTS = ("aiohttp", "requests", "httpx._main", "rich", "redis")
LOADED_LEAN = ("httpx", "socketio", "structlog.dev", "structlog.tracebacks")


@contextmanager
def _absent(names: tuple[str, ...]) -> Iterator[None]:
    """`import name` raises ImportError inside, for names not imported yet."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def load_libraries_lean() -> None:
    with _absent(UNUSED_OPTIONAL_IMPORTS):
        for module in LOADED_LEAN:
            importlib.import_module(module)


def main() -> None:
    load_libraries_lean()
    from medianest.cli import main as run_command

    run_command()


if __name__ == "__main__":
    main()
