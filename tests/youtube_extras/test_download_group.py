"""A download group MediaNest's process is not in (the admin set Plex's gid but did not
add MediaNest's user to that group): chown(2) refuses it (EPERM). No folder MediaNest
makes is then left behind half-made (0755, our own group) for a later check to reuse
and fill with files Plex cannot read; the job pauses with a reason that names the group
and the fix, and the worker says so when it starts.

As in the world, the worker runs without root's privilege (root may give files to any
group): a process started with `setpriv` with no capability and no supplementary group,
configured with a group it is not in. Its uid stays 0, so it still reaches the test run's
interpreter in CI's private (0700) virtual environment; without CAP_CHOWN, CAP_FOWNER or
CAP_FSETID, chown and chmod follow the owner's rules any other user meets
(`fs/attr.c` `chgrp_ok`, `setattr_should_drop_sgid`)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube.test_worker_process import STARTUP_TIMEOUT, worker_env
from tests.youtube_extras.conftest import wait_for

SETPRIV = shutil.which("setpriv")
NOT_JOINED = 4242  # the download group: one the worker process is not a member of
SOURCES = Path(__file__).resolve().parents[2]
PAUSED = "FOLDER_NOT_WRITABLE"
DONE = ("completed", "failed", "cancelled")


def unprivileged(*argv: str) -> list[str]:
    """`argv` as a process with no privilege and no group but its own (gid 0)."""
    assert SETPRIV is not None
    ids = ["--reuid", "0", "--regid", "0", "--clear-groups"]
    caps = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    return [SETPRIV, *ids, *caps, *argv]


def unprivileged_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = f"{SOURCES / 'src'}{os.pathsep}{SOURCES}"
    env["HOME"] = tempfile.gettempdir()
    return env


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A folder of the test's own, in the system's temporary folder."""
    if SETPRIV is None:
        pytest.skip("setpriv (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("setpriv needs root to start a process as another user")
    path = Path(tempfile.mkdtemp(prefix="medianest-dlgroup-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def download_root(private_dir: Path) -> Path:
    """The download root the admin made for MediaNest's user (the tests' Plex reads it)."""
    root = private_dir / "downloads"
    root.mkdir()
    return root


CHECKS = """
import json, os, stat, sys
from pathlib import Path
from medianest.youtube.downloads import files
root, gid = Path(sys.argv[1]), int(sys.argv[2])
checks = []
for _ in range(4):  # the job's first check and its rechecks
    try:
        files.prepare_folder(root / "user" / "Playlist", root=root, gid=gid)
        outcome = {"refused": None}
    except files.FolderNotWritable as exc:
        outcome = {"refused": exc.reason, "folder": str(exc.folder)}
    outcome["folders"] = [
        [str(p), oct(stat.S_IMODE(p.stat().st_mode)), p.stat().st_gid]
        for p in [root, *root.rglob("*")] if p.exists()
    ]
    checks.append(outcome)
print(json.dumps(checks))
"""


def test_a_folder_for_a_group_the_process_is_not_in_is_never_left_half_made(
    private_dir: Path,
) -> None:
    root = private_dir / "downloads"  # not there yet: the first check makes it
    done = subprocess.run(
        unprivileged(sys.executable, "-c", CHECKS, str(root), str(NOT_JOINED)),
        env=unprivileged_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)
    for number, check in enumerate(checks, start=1):
        # Nothing half-made stays for the next check to reuse (no 0755, our own group).
        assert check["folders"] == [], f"check {number} left {check['folders']}"
        assert check["refused"] is not None, f"check {number} went ahead"
        assert f"not a member of the download group {NOT_JOINED}" in check["refused"]
        assert f"add MediaNest's user to group {NOT_JOINED}" in check["refused"]
    assert not root.exists()


def settled(rows: list[YoutubeDownload]) -> bool:
    """Paused, or done with (a recheck claims the job for a moment: "downloading")."""
    return bool(rows) and (rows[0].pause_reason is not None or rows[0].status in DONE)


SETGID_ROOT = """
import json, stat, sys
from pathlib import Path
from medianest.youtube.downloads import files
root, gid = Path(sys.argv[1]), int(sys.argv[2])
folder = files.prepare_folder(root / "user" / "Playlist", root=root, gid=gid)
with files.download_umask():
    (folder / "001 - Clip.mp4.part").write_bytes(b"x")  # as yt-dlp starts a file
print(json.dumps([
    [str(p.relative_to(root)), oct(stat.S_IMODE(p.stat().st_mode)), p.stat().st_gid]
    for p in sorted(root.rglob("*"))
]))
"""


def test_a_setgid_root_of_the_download_group_serves_a_process_outside_that_group(
    private_dir: Path,
) -> None:
    """The admin made the root 2750 with Plex's group (admin guide): folders made inside
    take the group and the setgid bit from it, with no chown or chmod a process outside the
    group may not do (a chmod would drop the setgid bit: files of our own group)."""
    root = private_dir / "downloads"
    root.mkdir()
    os.chown(root, -1, NOT_JOINED)
    os.chmod(root, 0o2750)
    done = subprocess.run(
        unprivileged(sys.executable, "-c", SETGID_ROOT, str(root), str(NOT_JOINED)),
        env=unprivileged_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        ["user", "0o2750", NOT_JOINED],
        ["user/Playlist", "0o2750", NOT_JOINED],
        ["user/Playlist/001 - Clip.mp4.part", "0o640", NOT_JOINED],
    ]


@pytest.mark.timeout(400)
async def test_the_worker_pauses_a_download_naming_the_group_it_is_not_in(
    app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    settings: Settings,
    private_dir: Path,
    download_root: Path,
) -> None:
    env = unprivileged_env(worker_env(settings, private_dir))
    data = private_dir / "worker-data"
    data.mkdir()
    env |= {"MEDIANEST_DATA_DIR": str(data), "MEDIANEST_DOWNLOAD_GID": str(NOT_JOINED)}
    env["TMPDIR"] = str(private_dir)  # its heartbeat file (youtube/jobs/heartbeat.py)
    env.pop("MEDIANEST_REDIS_URL", None)  # progress stored, not pushed: nobody watches
    async with await signed_in_client(app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
    log_path = private_dir / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            unprivileged(sys.executable, "-m", "medianest.cli", "worker"),
            env=env,
            cwd=private_dir,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        first = (await wait_for(app, settled, user_id=alice.id, timeout=STARTUP_TIMEOUT))[0]
        await asyncio.sleep(3)  # rechecks (retry base 0 s: every 0.5 s)
        rows = await wait_for(app, settled, user_id=alice.id)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    log = log_path.read_text(errors="replace")
    left = [
        (str(p), oct(stat.S_IMODE(p.stat().st_mode)), p.stat().st_gid)
        for p in download_root.rglob("*")
    ]
    assert left == []  # no folder half-made, no file downloaded into one
    for job in (first, rows[0]):
        assert (job.status, job.pause_reason) == ("queued", PAUSED), (job.error, log[-2000:])
        assert f"not a member of the download group {NOT_JOINED}" in (job.error or "")
        assert f"add MediaNest's user to group {NOT_JOINED}" in (job.error or "")
        assert [i.state for i in job.items] == ["pending"] * 3
    assert "youtube_download_group_not_joined" in log  # said at start, before any download
