"""An install without the lock's Deno (32-bit ARM has no `deno` wheel; a hand install that
skipped it): MediaNest offers yt-dlp the other runtimes yt-dlp supports that are on PATH
and new enough, in yt-dlp's own order (deno, node, quickjs, bun: the providers'
`preference` in yt_dlp/extractor/youtube/jsc/_builtin/), without the admin naming one;
the runtime the admin names still wins. Each case runs in a process of its own, from an
environment whose bin holds no Deno, with a PATH of stand-in runtimes that print a
version as the real ones do (yt_dlp/utils/_jsruntime.py asks `--version`, QuickJS
`--help`): this machine's node (20) is older than yt-dlp needs (22), so no real solve by
another runtime is possible here. yt-dlp's own director then says which it would use."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import Role
from medianest.settings import Settings
from tests.factories.users import create_user, signed_in_client

ROOT = Path(__file__).resolve().parents[2]
# What MediaNest gives yt-dlp, what the System page says, and which provider yt-dlp's
# director (`JsChallengeRequestDirector._get_providers`) would try first with it.
PROBE = r"""
import json, os
from medianest.youtube.ytdlp import js_solver
from medianest.youtube.ytdlp.guard import GuardedYoutubeDL

setting = os.environ.get("MEDIANEST_YTDLP_JS_RUNTIME")
params = js_solver.ytdlp_params(setting)
status = js_solver.status(setting)
ydl = GuardedYoutubeDL({"quiet": True, **params}, extra_hosts=())
ie = ydl.get_info_extractor("Youtube")
ie._real_initialize()
first = next(iter(ie._jsc_director._get_providers([])), None)
print(json.dumps({
    "offered": {name: c.get("path") for name, c in params["js_runtimes"].items()},
    "runtime": status.runtime, "version": status.version, "ok": status.ok,
    "reason": getattr(status, "reason", None), "warning": status.warning,
    "yt_dlp_uses": first and first.PROVIDER_NAME,
}))
"""


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python whose environment's bin has no `deno` (as where the wheel is not
    installed), with the locked libraries importable."""
    env = tmp_path_factory.mktemp("bare") / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    return env / "bin" / "python"


def _stub(folder: Path, name: str, output: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)
    return path


def _run(python: Path, path: Path, setting: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    env |= {"PATH": str(path), "PYTHONPATH": f"{ROOT / 'src'}:{sysconfig.get_path('purelib')}"}
    if setting:
        env["MEDIANEST_YTDLP_JS_RUNTIME"] = setting
    done = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_without_deno_the_runtimes_on_path_new_enough_are_offered_in_yt_dlps_order(
    bare_python: Path, tmp_path: Path
) -> None:
    bin_ = tmp_path / "bin"
    node = _stub(bin_, "node", "v22.12.0")
    qjs = _stub(bin_, "qjs", "QuickJS version 2024-01-13")
    bun = _stub(bin_, "bun", "1.2.11")
    got = _run(bare_python, bin_)
    assert got["offered"] == {"node": str(node), "quickjs": str(qjs), "bun": str(bun)}
    assert list(got["offered"]) == ["node", "quickjs", "bun"]
    assert got["yt_dlp_uses"] == "node"
    assert (got["runtime"], got["version"], got["ok"], got["warning"]) == (
        "node",
        "22.12.0",
        True,
        None,
    )
    assert got["reason"].startswith("Deno is not installed beside MediaNest or on PATH;")
    assert "used instead: node, quickjs, bun" in got["reason"]


def test_runtimes_older_than_yt_dlp_needs_are_not_offered(
    bare_python: Path, tmp_path: Path
) -> None:
    bin_ = tmp_path / "bin"
    _stub(bin_, "node", "v20.19.0")  # yt-dlp needs 22 (NodeJsRuntime.MIN_SUPPORTED_VERSION)
    bun = _stub(bin_, "bun", "1.2.11")
    got = _run(bare_python, bin_)
    assert got["offered"] == {"bun": str(bun)}
    assert got["yt_dlp_uses"] == "bun"

    _stub(bin_, "bun", "1.1.0")
    nothing = _run(bare_python, bin_)
    assert nothing["offered"] == {"deno": None}  # so yt-dlp says none was found
    assert nothing["yt_dlp_uses"] is None
    assert nothing["ok"] is False
    assert nothing["warning"].startswith("No JavaScript runtime (deno) was found")
    assert nothing["reason"] == (
        "Deno is not installed beside MediaNest or on PATH, and no other runtime yt-dlp "
        "supports was found on PATH"
    )


def test_a_deno_too_old_gives_way_and_a_deno_new_enough_is_kept(
    bare_python: Path, tmp_path: Path
) -> None:
    bin_ = tmp_path / "bin"
    deno = _stub(bin_, "deno", "deno 2.1.0 (stable, release, x86_64-unknown-linux-gnu)")
    node = _stub(bin_, "node", "v22.12.0")
    got = _run(bare_python, bin_)
    assert got["offered"] == {"node": str(node)}
    assert got["reason"].startswith(f"Deno 2.1.0 ({deno}) is older than yt-dlp needs (2.3.0);")

    _stub(bin_, "deno", "deno 2.5.0 (stable, release, x86_64-unknown-linux-gnu)")
    kept = _run(bare_python, bin_)
    assert kept["offered"] == {"deno": str(deno)}
    assert (kept["yt_dlp_uses"], kept["reason"]) == ("deno", "found on PATH")


def test_the_runtime_the_admin_names_wins_over_those_found(
    bare_python: Path, tmp_path: Path
) -> None:
    bin_ = tmp_path / "bin"
    _stub(bin_, "node", "v22.12.0")
    bun = _stub(bin_, "bun", "1.2.11")
    got = _run(bare_python, bin_, setting="bun")
    assert got["offered"] == {"bun": str(bun)}
    assert (got["yt_dlp_uses"], got["reason"]) == ("bun", "MEDIANEST_YTDLP_JS_RUNTIME names it")


def test_quickjs_ng_is_offered_at_any_version_as_yt_dlp_judges_it(
    bare_python: Path, tmp_path: Path
) -> None:
    bin_ = tmp_path / "bin"
    qjs = _stub(bin_, "qjs", "QuickJS-ng version 0.10.1")
    got = _run(bare_python, bin_)
    assert got["offered"] == {"quickjs": str(qjs)}
    assert (got["yt_dlp_uses"], got["ok"]) == ("quickjs", True)


async def test_the_system_page_says_which_runtime_is_used_and_why(
    app_factory: Callable[..., Any],
    youtube_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In-process: an environment bin without Deno, node 22 on PATH."""
    bin_ = tmp_path / "bin"
    node = _stub(bin_, "node", "v22.12.0")
    real = sysconfig.get_path
    monkeypatch.setattr(
        sysconfig, "get_path", lambda name, *a: str(bin_) if name == "scripts" else real(name, *a)
    )
    monkeypatch.setenv("PATH", str(bin_))
    app: MediaNestApp = await app_factory(youtube_settings())
    owner = await create_user(app, "owner", role=Role.ADMIN)
    async with await signed_in_client(app, owner) as client:
        solver = (await client.get("/api/admin/system")).json()["data"]["ytDlp"]["challengeSolver"]
        page = (await client.get("/admin/system")).text
    assert (solver["ok"], solver["runtime"], solver["path"]) == (True, "node", str(node))
    assert solver["reason"] == (
        "Deno is not installed beside MediaNest or on PATH; used instead: node "
        "(yt-dlp's order: deno, node, quickjs, bun)"
    )
    assert "node 22.12.0" in page
    assert "used instead: node" in page
