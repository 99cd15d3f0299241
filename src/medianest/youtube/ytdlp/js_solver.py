"""YouTube's JavaScript challenges: which runtime yt-dlp solves them with, and whether it can.

Since 2025.11 yt-dlp reads YouTube's formats only after solving the player's "n" and
signature challenges, by running the EJS solver scripts (the `yt-dlp-ejs` package) in an
external JavaScript runtime (`yt_dlp/extractor/youtube/jsc/_builtin/`: deno.py, node.py,
bun.py, quickjs.py; versions in `yt_dlp/utils/_jsruntime.py`). Without one it warns "n
challenge solving failed: Some formats may be missing" and the download fails or misses
formats. The lock installs Deno (the `deno` package puts the binary in the environment's
`bin`), but a process started as `/path/.venv/bin/medianest` or by systemd may not have that
folder on PATH, so MediaNest names the binary itself: `ytdlp_params` is the one place that
decides, for every YoutubeDL MediaNest builds (downloader.py). `MEDIANEST_YTDLP_JS_RUNTIME`
(`RUNTIME[:PATH]`, as yt-dlp's `--js-runtimes`) chooses another. Code is fetched from the
network (`remote_components`: `ejs:npm`, Deno's own fetch) only when the admin opts in.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import os
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medianest.settings import Settings

ENV_NAME = "MEDIANEST_YTDLP_JS_RUNTIME"


@dataclass(frozen=True)
class _Kind:
    exe: str  # the executable's usual name (yt-dlp's `_determine_runtime_path` basename)
    probe: str  # how yt-dlp asks the version (quickjs has no --version)
    pattern: str
    minimum: tuple[int, ...]  # yt-dlp's MIN_SUPPORTED_VERSION (tests compare them)


RUNTIMES = {
    "deno": _Kind("deno", "--version", r"^deno (\S+)", (2, 3, 0)),
    "node": _Kind("node", "--version", r"^v(\S+)", (22, 0, 0)),
    "bun": _Kind("bun", "--version", r"^(\S+)", (1, 2, 11)),
    "quickjs": _Kind("qjs", "--help", r"^QuickJS(?:-ng)?\s+version\s+(\S+)", (2023, 12, 9)),
}
FIX = (
    "reinstall MediaNest from its lock (scripts/install run, or a new image), which installs "
    f"Deno and yt-dlp-ejs, or set {ENV_NAME} to a runtime yt-dlp supports "
    "(deno >= 2.3, node >= 22, bun >= 1.2.11, quickjs)"
)


@dataclass(frozen=True)
class Choice:
    name: str
    path: str | None  # None: not found


def choose(setting: str | None) -> Choice:
    """The runtime for `MEDIANEST_YTDLP_JS_RUNTIME` (`deno`, `node:/usr/local/bin/node`, …);
    unset: the Deno the lock installed beside this Python, else one on PATH."""
    name, _, path = (setting or "deno").partition(":")
    if path:
        return Choice(name, path)
    exe = RUNTIMES[name].exe
    beside = Path(sysconfig.get_path("scripts")) / exe  # the environment's own bin
    if os.access(beside, os.X_OK) and beside.is_file():
        return Choice(name, str(beside))
    return Choice(name, shutil.which(exe))


def ytdlp_params(setting: str | None, remote_components: str = "") -> dict[str, Any]:
    """`js_runtimes` (with the binary's path) and `remote_components` for a YoutubeDL."""
    choice = choose(setting)
    return {
        "js_runtimes": {choice.name: {"path": choice.path} if choice.path else {}},
        "remote_components": [c.strip() for c in remote_components.split(",") if c.strip()],
    }


@dataclass(frozen=True)
class SolverStatus:
    runtime: str
    path: str | None
    version: str | None
    ejs_version: str | None
    ejs_expected: str | None  # what this yt-dlp asks for (its metadata)
    warning: str | None

    @property
    def ok(self) -> bool:
        return self.warning is None


@functools.lru_cache(maxsize=8)
def _probe(path: str, flag: str, _stamp: tuple[float, int]) -> str | None:
    """`<runtime> --version`'s output, or None when it does not run; cached per file."""
    try:
        done = subprocess.run(  # noqa: S603  # the admin's or the lock's binary, no shell
            [path, flag], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout or done.stderr or None


def runtime_version(choice: Choice) -> str | None:
    if choice.path is None:
        return None
    try:
        stat = os.stat(choice.path)
    except OSError:
        return None
    kind = RUNTIMES[choice.name]
    out = _probe(choice.path, kind.probe, (stat.st_mtime, stat.st_size))
    found = re.search(kind.pattern, out or "", re.MULTILINE)
    return found.group(1) if found else None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def expected_ejs() -> str | None:
    """The yt-dlp-ejs version this yt-dlp pins (`yt-dlp-ejs==0.8.0; extra == 'default'`),
    read from its metadata: importing yt_dlp costs ~25 MB."""
    for requirement in importlib.metadata.requires("yt-dlp") or []:
        found = re.match(r"yt-dlp-ejs\s*==\s*([\w.]+)", requirement)
        if found:
            return found.group(1)
    return None


def status(setting: str | None, remote_components: str = "") -> SolverStatus:
    """Can yt-dlp solve YouTube's challenges here? Blocking: runs the runtime once."""
    choice = choose(setting)
    version = runtime_version(choice)
    ejs, expected = _installed("yt-dlp-ejs"), expected_ejs()
    return SolverStatus(
        runtime=choice.name,
        path=choice.path,
        version=version,
        ejs_version=ejs,
        ejs_expected=expected,
        warning=_warning(choice, version, ejs, expected, remote_components),
    )


async def configured_status(settings: Settings) -> SolverStatus:
    """`status` for the admin's settings, run off the event loop (it runs the runtime's
    `--version`, once per binary): the System page and the workers' start ask this."""
    return await asyncio.to_thread(
        status, settings.ytdlp_js_runtime, settings.ytdlp_remote_components
    )


def _warning(
    choice: Choice, version: str | None, ejs: str | None, expected: str | None, remote: str
) -> str | None:
    effect = "YouTube downloads miss formats or fail"
    minimum = RUNTIMES[choice.name].minimum
    if choice.path is None:
        problem = f"No JavaScript runtime ({choice.name}) was found for YouTube's challenges"
    elif version is None:
        problem = f"The JavaScript runtime {choice.path} does not run"
    elif _version_tuple(version) < minimum:
        least = ".".join(map(str, minimum))
        problem = f"{choice.name} {version} ({choice.path}) is older than yt-dlp needs ({least})"
    elif "ejs:npm" in remote and choice.name in ("deno", "bun"):
        return None  # yt-dlp's own lib script for them, its libraries from npm (deno.py)
    elif ejs is None:
        problem = "The challenge solver scripts (yt-dlp-ejs) are not installed"
    elif expected and _version_tuple(ejs)[:2] != _version_tuple(expected)[:2]:
        problem = f"yt-dlp-ejs {ejs} is installed but this yt-dlp needs {expected}"
        fix = f"install that version beside it (pip install yt-dlp-ejs=={expected}), or {FIX}"
        return f"{problem}: {effect}. To fix it, {fix}."
    else:
        return None
    return f"{problem}: {effect}. To fix it, {FIX}."
