"""YouTube's JavaScript challenges, solved by what the lock installs: yt-dlp's own challenge
provider (yt_dlp/extractor/youtube/jsc/_builtin/deno.py), given MediaNest's YoutubeDL
params, runs the locked Deno binary on the locked EJS scripts (yt-dlp-ejs) in a process
whose PATH lacks the virtualenv's bin (systemd, `/path/.venv/bin/medianest`). The player
is a small one of YouTube's shape (one IIFE; the URL-building function that says
`x.y("alr", "yes")`, whose object's first own method rewrites "n" and "s": what the EJS
core script looks for). A runtime the admin names is used; a missing one is said on the
System page and by `medianest worker` at start."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from yt_dlp.extractor.youtube.jsc._builtin import vendor
from yt_dlp.utils import _jsruntime

from medianest.app import MediaNestApp
from medianest.auth.models import Role, User
from medianest.settings import Settings
from medianest.youtube.ytdlp import js_solver
from tests.factories.users import create_user, signed_in_client
from tests.youtube.test_worker_process import STARTUP_TIMEOUT, worker_env

ROOT = Path(__file__).resolve().parents[2]
PLAYER = r"""
(function (g) {
  var hooks = { on: function () {} };
  var Q = function (s) { this.p = { s: s, n: null }; };
  Q.prototype.set = function (k, v) { this.p[k] = v; };
  Q.prototype.get = function (k) { return this.p[k]; };
  Q.prototype.clone = function () { return this; };
  Q.prototype.scramble = function () {
    if (this.p.n) this.p.n = this.p.n.split("").reverse().join("") + "_";
    if (this.p.s) {
      var s = decodeURIComponent(this.p.s).slice(2).split("").reverse().join("");
      this.p.s = encodeURIComponent(s);
    }
  };
  function Url(u, name, s) {
    hooks.on("alr", "yes");
    return new Q(s);
  }
  g.Url = Url;
}).call(this, {});
"""
# Run in a child process: MediaNest's params, yt-dlp's director and Deno provider.
SOLVE = r"""
import json, sys
from medianest.youtube.ytdlp.guard import GuardedYoutubeDL
from medianest.youtube.ytdlp.js_solver import ytdlp_params
from yt_dlp.extractor.youtube.jsc.provider import (
    JsChallengeRequest, JsChallengeType, NChallengeInput, SigChallengeInput)

player_url = "https://www.youtube.com/s/player/0123abcd/player_ias.vflset/en_US/base.js"
ydl = GuardedYoutubeDL({"quiet": True, **ytdlp_params(None)}, extra_hosts=())
ie = ydl.get_info_extractor("Youtube")
ie._real_initialize()
ie._code_cache[ie._player_js_cache_key(player_url)] = sys.stdin.read()  # "downloaded"
deno = next(p for p in ie._jsc_director.providers.values() if p.PROVIDER_NAME == "deno")
solved = ie._jsc_director.bulk_solve([
    JsChallengeRequest(JsChallengeType.N, NChallengeInput(player_url, ["abcdef"]), "v"),
    JsChallengeRequest(JsChallengeType.SIG, SigChallengeInput(player_url, ["xyz123"]), "v"),
])
print(json.dumps({
    "runtime": deno.runtime_info and deno.runtime_info.path,
    "lib": deno._lib_script.source.value,
    "solved": {r.type.value: r.output.results for _, r in solved},
}))
"""


def _without_venv_on_path() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    env["PATH"] = "/usr/bin:/bin"
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


async def test_the_locked_runtime_and_scripts_solve_a_challenge_without_the_venv_on_path() -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", SOLVE],
        input=PLAYER,
        capture_output=True,
        text=True,
        env=_without_venv_on_path(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["runtime"] == str(Path(sys.executable).parent / "deno")
    assert result["lib"] == "python package"  # yt-dlp-ejs, nothing fetched
    assert result["solved"] == {"n": {"abcdef": "fedcba_"}, "sig": {"xyz123": "321z"}}


def test_the_lock_holds_the_scripts_this_yt_dlp_expects_and_its_runtime_minimums() -> None:
    installed = importlib.metadata.version("yt-dlp-ejs")
    assert installed.split(".")[:2] == vendor.VERSION.split(".")[:2]
    assert js_solver.expected_ejs() == vendor.VERSION
    lock = (ROOT / "requirements" / "run.txt").read_text()
    assert f"\nyt-dlp-ejs=={installed} \\\n" in lock
    deno_pin = lock.split("\ndeno==", 1)[1].split("\n    #", 1)[0]
    assert deno_pin.count("--hash=sha256:") >= 2  # x86_64 and aarch64 (and others)
    # Installed where a wheel exists (a Raspberry Pi on a 64-bit OS too); left out on
    # 32-bit ARM, where its sdist would fetch a binary Deno does not publish.
    marker = Marker(deno_pin.split(";", 1)[1].split("\\", 1)[0].strip())
    machines = ("x86_64", "aarch64", "armv7l")
    assert [marker.evaluate({"platform_machine": m}) for m in machines] == [True, True, False]
    minimums = {
        "deno": _jsruntime.DenoJsRuntime.MIN_SUPPORTED_VERSION,
        "node": _jsruntime.NodeJsRuntime.MIN_SUPPORTED_VERSION,
        "bun": _jsruntime.BunJsRuntime.MIN_SUPPORTED_VERSION,
        "quickjs": _jsruntime.QuickJsRuntime.MIN_SUPPORTED_VERSION,
    }
    assert {name: kind.minimum for name, kind in js_solver.RUNTIMES.items()} == minimums


def _fake_node(folder: Path, version: str) -> Path:
    node = folder / "my-node"
    node.write_text(f"#!/bin/sh\necho v{version}\n")
    node.chmod(0o755)
    return node


def test_the_admins_runtime_is_passed_to_yt_dlp_and_judged_as_yt_dlp_does(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    node = _fake_node(tmp_path, "22.4.1")
    params = js_solver.ytdlp_params(f"node:{node}")
    assert params == {"js_runtimes": {"node": {"path": str(node)}}, "remote_components": []}
    ok = js_solver.status(f"node:{node}")
    assert (ok.runtime, ok.path, ok.version, ok.warning) == ("node", str(node), "22.4.1", None)
    info = _jsruntime.NodeJsRuntime(path=str(node)).info
    assert info is not None and info.supported and info.version == "22.4.1"

    (tmp_path / "old").mkdir()
    old = _fake_node(tmp_path / "old", "20.19.0")
    too_old = js_solver.status(f"node:{old}")
    assert too_old.warning is not None
    assert too_old.warning.startswith(f"node 20.19.0 ({old}) is older than yt-dlp needs (22.0.0)")
    assert not _jsruntime.NodeJsRuntime(path=str(old)).info.supported  # type: ignore[union-attr]
    # No code from the network unless the admin says so.
    assert js_solver.ytdlp_params(None)["remote_components"] == []
    chosen = js_solver.ytdlp_params(None, "ejs:npm")["remote_components"]
    assert chosen == ["ejs:npm"]
    with pytest.raises(ValueError, match="ytdlp_remote_components"):
        make_settings(ytdlp_remote_components="ejs:github")  # past the fetch allow-list
    with pytest.raises(ValueError, match="ytdlp_js_runtime"):
        make_settings(ytdlp_js_runtime="rhino:/usr/bin/rhino")  # not one yt-dlp supports


@pytest.fixture
def settings(youtube_settings: Callable[..., Settings]) -> Settings:
    """The admin names a runtime that is not there (a typo, a removed package)."""
    return youtube_settings(ytdlp_js_runtime="deno:/nonexistent/deno")


async def test_a_missing_runtime_is_named_on_the_system_page(
    app: MediaNestApp, admin: User
) -> None:
    async with await signed_in_client(app, admin) as client:
        info = (await client.get("/api/admin/system")).json()["data"]["ytDlp"]
        page = (await client.get("/admin/system")).text
    solver = info["challengeSolver"]
    assert solver["ok"] is False
    assert (solver["runtime"], solver["path"], solver["version"]) == (
        "deno",
        "/nonexistent/deno",
        None,
    )
    assert solver["ejsVersion"] == vendor.VERSION
    assert solver["warning"].startswith(
        "The JavaScript runtime /nonexistent/deno does not run: YouTube downloads miss formats"
    )
    assert "MEDIANEST_YTDLP_JS_RUNTIME" in solver["warning"]
    assert "The JavaScript runtime /nonexistent/deno does not run" in page


async def test_the_system_page_names_the_locked_runtime(
    app_factory: Callable[..., Any], youtube_settings: Callable[..., Settings]
) -> None:
    app: MediaNestApp = await app_factory(youtube_settings())  # no runtime setting
    owner = await create_user(app, "owner", role=Role.ADMIN)
    async with await signed_in_client(app, owner) as client:
        solver = (await client.get("/api/admin/system")).json()["data"]["ytDlp"]["challengeSolver"]
        page = (await client.get("/admin/system")).text
    deno = str(Path(sys.executable).parent / "deno")
    assert (solver["ok"], solver["runtime"], solver["path"]) == (True, "deno", deno)
    assert solver["version"] == importlib.metadata.version("deno")
    assert (solver["ejsVersion"], solver["ejsExpected"]) == (vendor.VERSION, vendor.VERSION)
    assert solver["warning"] is None
    assert f"deno {solver['version']}" in page


@pytest.mark.timeout(300)
async def test_the_worker_says_at_start_that_youtube_challenges_cannot_be_solved(
    settings: Settings, tmp_path: Path
) -> None:
    env = worker_env(settings, tmp_path) | {
        "PATH": "/usr/bin:/bin",
        "MEDIANEST_YTDLP_JS_RUNTIME": "deno:/nonexistent/deno",
        "MEDIANEST_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "medianest.cli", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while "youtube_challenge_solver_missing" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert loop.time() < deadline, log.read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.2)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
    assert "/nonexistent/deno does not run" in log.read_text(errors="replace")


async def test_solver_scripts_of_another_version_are_named_with_the_one_yt_dlp_needs(
    tmp_path: Path,
) -> None:
    """An older yt-dlp-ejs first on the path (a hand install beside the lock's) is judged
    as yt-dlp judges it (ejs.py: major.minor must match), in a process of its own."""
    shadow = tmp_path / "site" / "yt_dlp_ejs-0.7.1.dist-info"
    shadow.mkdir(parents=True)
    (shadow / "METADATA").write_text("Metadata-Version: 2.1\nName: yt-dlp-ejs\nVersion: 0.7.1\n")
    env = _without_venv_on_path() | {"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT / 'src'}"}
    code = "from medianest.youtube.ytdlp import js_solver; print(js_solver.status(None).warning)"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(
        f"yt-dlp-ejs 0.7.1 is installed but this yt-dlp needs {vendor.VERSION}: YouTube"
    )
    assert f"pip install yt-dlp-ejs=={vendor.VERSION}" in done.stdout
