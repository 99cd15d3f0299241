"""YouTube's JavaScript challenges: which runtime yt-dlp solves them with, and whether it can.

Since 2025.11 yt-dlp reads YouTube's formats only after solving the player's "n" and
signature challenges, by running the EJS solver scripts (the `yt-dlp-ejs` package) in an
external JavaScript runtime (`yt_dlp/extractor/youtube/jsc/_builtin/`: deno.py, node.py,
bun.py, quickjs.py; versions in `yt_dlp/utils/_jsruntime.py`). Without one it warns "n
challenge solving failed: Some formats may be missing" and the download fails or misses
formats. The lock installs Deno (the `deno` package puts the binary in the environment's
`bin`), but a process started as `/path/.venv/bin/medianest` or by systemd may not have that
folder on PATH, so MediaNest names the binary itself: `ytdlp_params` is the one place that
decides, for every YoutubeDL MediaNest builds (downloader.py). Where that Deno is missing
or unusable (32-bit ARM has no wheel), the other runtimes yt-dlp supports that are here
are offered instead, in yt-dlp's order (`offered`); `MEDIANEST_YTDLP_JS_RUNTIME`
(`RUNTIME[:PATH]`, as yt-dlp's `--js-runtimes`) chooses one and wins. Code is fetched from
the network (`remote_components`: `ejs:npm`, Deno's own fetch) only when the admin opts in.
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
    "Deno and yt-dlp-ejs, or install another runtime yt-dlp supports (node >= 22, quickjs, "
    f"bun >= 1.2.11: MediaNest uses one it finds on PATH), or name one in {ENV_NAME}"
)


# yt-dlp's order of preference when several are enabled: each built-in provider's
# `preference` (jsc/_builtin/deno.py 1000, node.py 900, quickjs.py 850, bun.py 800); its
# director (`JsChallengeRequestDirector._get_providers`) tries the available ones in that
# order and goes on to the next when one fails.
ORDER = ("deno", "node", "quickjs", "bun")


@dataclass(frozen=True)
class Choice:
    name: str
    path: str | None  # None: not found


def _found(name: str) -> Choice:
    """Where `name` is: the lock's binary beside this Python (the environment's own bin,
    which a systemd PATH lacks), else the first on PATH (`_jsruntime._find_exe`)."""
    exe = RUNTIMES[name].exe
    beside = Path(sysconfig.get_path("scripts")) / exe
    if os.access(beside, os.X_OK) and beside.is_file():
        return Choice(name, str(beside))
    return Choice(name, shutil.which(exe))


def offered(setting: str | None) -> tuple[list[Choice], str]:
    """The runtimes MediaNest enables in yt-dlp, and why. The admin's, when set; else
    Deno when it runs and is new enough; else every other runtime yt-dlp supports that is
    here and new enough, in yt-dlp's order (yt-dlp itself enables only Deno: `YoutubeDL`'s
    `js_runtimes` default); else Deno, so that yt-dlp and the System page say it is missing."""
    if setting:
        name, _, path = setting.partition(":")
        return [Choice(name, path) if path else _found(name)], f"{ENV_NAME} names it"
    deno = _found("deno")
    if supported(deno):
        beside = deno.path == str(Path(sysconfig.get_path("scripts")) / "deno")
        return [deno], "installed with MediaNest" if beside else "found on PATH"
    others = [c for c in map(_found, ORDER[1:]) if supported(c)]
    why = _deno_problem(deno)
    if not others:
        return [deno], f"{why}, and no other runtime yt-dlp supports was found on PATH"
    names = ", ".join(c.name for c in others)
    return others, f"{why}; used instead: {names} (yt-dlp's order: {', '.join(ORDER)})"


def _deno_problem(deno: Choice) -> str:
    if deno.path is None:
        return "Deno is not installed beside MediaNest or on PATH"
    version = runtime_version(deno)
    if version is None:
        return f"Deno ({deno.path}) does not run"
    least = ".".join(map(str, RUNTIMES["deno"].minimum))
    return f"Deno {version} ({deno.path}) is older than yt-dlp needs ({least})"


def ytdlp_params(setting: str | None, remote_components: str = "") -> dict[str, Any]:
    """`js_runtimes` (with the binaries' paths) and `remote_components` for a YoutubeDL."""
    runtimes = offered(setting)[0]
    return {
        "js_runtimes": {c.name: {"path": c.path} if c.path else {} for c in runtimes},
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
    reason: str = ""  # why this runtime (`offered`)

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


def _probed(choice: Choice) -> str | None:
    if choice.path is None:
        return None
    try:
        stat = os.stat(choice.path)
    except OSError:
        return None
    return _probe(choice.path, RUNTIMES[choice.name].probe, (stat.st_mtime, stat.st_size))


def runtime_version(choice: Choice) -> str | None:
    out = _probed(choice)
    found = re.search(RUNTIMES[choice.name].pattern, out or "", re.MULTILINE)
    return found.group(1) if found else None


def supported(choice: Choice) -> bool:
    """Runs, and is as new as yt-dlp asks (`_jsruntime`: `JsRuntimeInfo.supported`;
    QuickJS-ng, versioned 0.x, is supported at any version)."""
    version = runtime_version(choice)
    if version is None:
        return False
    if choice.name == "quickjs" and "QuickJS-ng" in (_probed(choice) or ""):
        return _version_tuple(version) > (0,)
    return _version_tuple(version) >= RUNTIMES[choice.name].minimum


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
    runtimes, reason = offered(setting)
    choice = runtimes[0]
    version = runtime_version(choice)
    ejs, expected = _installed("yt-dlp-ejs"), expected_ejs()
    return SolverStatus(
        runtime=choice.name,
        path=choice.path,
        version=version,
        ejs_version=ejs,
        ejs_expected=expected,
        warning=_warning(choice, version, ejs, expected, remote_components),
        reason=reason,
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
    elif not supported(choice):
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
