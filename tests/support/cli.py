"""`medianest <command>` run in the test process: the real click app through its
CliRunner, with only the given MEDIANEST_* variables set. A process start costs 0.5-2 s
of CPU (imports, shutdown); tests of what a command says and does run here, and the
tests of a served, signalled or round-tripped process (serve, worker, backup + restore)
keep starting the real one."""

from __future__ import annotations

import gc
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from click.testing import CliRunner

from medianest.cli import app as cli_app
from medianest.core.logging import configure_logging


@dataclass(frozen=True)
class Ran:
    """What a run left: the fields of `subprocess.CompletedProcess` the tests read."""

    returncode: int
    stdout: str
    stderr: str


def invoke_medianest(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run `medianest *args` with only `env` as MEDIANEST_* variables.

    It runs in a thread of its own, waited for: the commands call `asyncio.run`, which a
    thread with a running loop (an async test's) may not, and the test's loop stays
    blocked meanwhile, as it was while it waited for a subprocess."""
    # Objects earlier tests left for collection are finalized now, not during the command:
    # their warnings (aiohttp's "Unclosed client session") would land in its stderr.
    gc.collect()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_invoke, args, env or {}).result()


def _invoke(args: tuple[str, ...], env: dict[str, str]) -> Ran:
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MEDIANEST_")}
    try:
        result = CliRunner().invoke(cli_app, list(args), env={**unset, **env})
    finally:
        # The command configured logging onto the runner's stderr, which is closed now:
        # back to the suite's configuration (tests/conftest.py).
        configure_logging(level="INFO", fmt="json")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # what a process would print as a traceback
    return Ran(result.exit_code, result.stdout, result.stderr)
