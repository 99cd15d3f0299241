"""A download folder MediaNest cannot write (the library folder Plex's container owns, a
share mounted read-only): the job pauses at once with FOLDER_NOT_WRITABLE and a message
that names the folder and says an administrator must fix it, logged once, shown to the
admin in the queue; it is not retried with backoff until it fails with "Unexpected
error". It goes on by itself once the folder is writable. MediaNest never changes the
mode or group of a folder it did not create.

Root ignores permission bits, so the folder is made read-only for real: a read-only
bind mount over it answers every write with EROFS, root's too. Without root (or where
mount is refused) those tests skip."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.youtube.downloads import files
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for

PAUSED = "FOLDER_NOT_WRITABLE"


class ReadOnlyMount:
    """`path` mounted over itself read-only until `release` (idempotent)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = False

    def release(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=True, capture_output=True)
            self.mounted = False


def _mount(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *args], check=False, capture_output=True)


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], ReadOnlyMount]]:
    """Makes read-only mounts; every one is unmounted at the end, whatever happened."""
    made: list[ReadOnlyMount] = []

    def make(path: Path) -> ReadOnlyMount:
        if os.geteuid() != 0:
            pytest.skip("a read-only bind mount needs root")
        mount = ReadOnlyMount(path)
        if _mount("--bind", str(path), str(path)).returncode != 0:
            pytest.skip("mount --bind is refused here")
        mount.mounted = True
        made.append(mount)
        if _mount("-o", "remount,bind,ro", str(path)).returncode != 0:
            pytest.skip("a read-only remount is refused here")
        return mount

    try:
        yield make
    finally:
        for mount in made:
            mount.release()


async def admin_sees_paused(client: httpx.AsyncClient, timeout: float = 10.0) -> object:
    """The admin queue's paused jobs, asked until it shows one (or the last seen)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        paused = (await client.get("/api/admin/system")).json()["data"]["queue"]["paused"]
        if paused or asyncio.get_running_loop().time() > deadline:
            return paused
        await asyncio.sleep(0.1)


def not_writable_logs(caplog: pytest.LogCaptureFixture) -> int:
    return sum("youtube_folder_not_writable" in r.getMessage() for r in caplog.records)


async def test_a_read_only_download_folder_pauses_the_job_until_an_admin_fixes_it(
    worker_app: MediaNestApp,
    alice: User,
    admin: User,
    media: MediaServerSimulator,
    download_root: Path,
    read_only: Callable[[Path], ReadOnlyMount],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_folder = download_root / str(alice.id)
    user_folder.mkdir(parents=True)
    share = read_only(user_folder)
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await wait_for(
            worker_app, lambda r: bool(r) and r[0].pause_reason is not None, user_id=alice.id
        )
    job = rows[0]
    assert (job.status, job.pause_reason) == ("queued", PAUSED), job.error
    message = job.error or ""
    assert "download folder is not writable" in message
    assert str(user_folder) in message  # names the folder
    assert "an administrator must fix its permissions" in message
    assert job.attempts == 0  # no attempt spent: this needs an admin, not time
    await asyncio.sleep(2)  # a few rechecks (retry base 0 s: every 0.5 s)
    rows = await wait_for(worker_app, lambda r: r[0].pause_reason == PAUSED, user_id=alice.id)
    assert rows[0].attempts == 0 and rows[0].status == "queued"
    assert not_writable_logs(caplog) == 1  # logged once, not at every recheck
    async with await signed_in_client(worker_app, admin) as admin_client:
        # Shown to the admin as paused: asked until then, since each recheck claims the
        # job for a moment (a loaded machine's recheck lasts long enough to be seen).
        paused = await admin_sees_paused(admin_client)
    assert paused == {PAUSED: 1}

    share.release()  # the admin fixes the share
    rows = await wait_for(worker_app, lambda r: r[0].status == "completed", user_id=alice.id)
    assert [i.state for i in rows[0].items] == ["completed"] * 3
    assert (rows[0].pause_reason, rows[0].error) == (None, None)


def test_an_existing_folder_that_cannot_be_written_is_reported_by_name(
    tmp_path: Path, read_only: Callable[[Path], ReadOnlyMount]
) -> None:
    root = tmp_path / "downloads"
    playlist = root / "user" / "Playlist"
    playlist.mkdir(parents=True)
    read_only(playlist)
    with pytest.raises(files.FolderNotWritable) as raised:
        files.prepare_folder(playlist, root=root)
    assert raised.value.folder == playlist
    assert "Read-only file system" in raised.value.reason


def test_folders_that_exist_keep_their_mode_and_group(tmp_path: Path) -> None:
    """The library folder is Plex's (its own uid, our group may write): MediaNest makes its
    own folders 2750 inside, and changes nothing of the ones it finds."""
    root = tmp_path / "downloads"
    library = root / "user"
    library.mkdir(parents=True)
    os.chmod(library, 0o2775)
    other_group = 4242 if os.geteuid() == 0 else os.getgid()
    os.chown(library, -1, other_group)
    made = files.prepare_folder(library / "Playlist", root=root, gid=os.getgid())
    assert stat.S_IMODE(library.stat().st_mode) == 0o2775
    assert library.stat().st_gid == other_group
    assert stat.S_IMODE(made.stat().st_mode) == 0o2750


async def test_a_file_the_folder_refuses_midway_pauses_the_job_and_loses_no_item(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
    tmp_path: Path,
    read_only: Callable[[Path], ReadOnlyMount],
) -> None:
    """The second item's file is refused (its `.part` leads into a read-only mount, as
    a folder whose permissions change while the job runs): that item stays pending."""
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only(locked)
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    folder.mkdir(parents=True)
    refused_part = folder / "002 - Clip Two.mp4.part"
    os.symlink(locked / "part", refused_part)
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await wait_for(
            worker_app,
            lambda r: bool(r) and (r[0].pause_reason == PAUSED or r[0].status == "completed"),
            user_id=alice.id,
        )
    job = rows[0]
    assert (job.status, job.pause_reason) == ("queued", PAUSED), (job.error, job.items)
    assert "an administrator must fix its permissions" in (job.error or "")
    assert [i.state for i in job.items] == ["completed", "pending", "pending"]
    assert job.items[1].error is None

    refused_part.unlink()  # the admin fixes it
    rows = await wait_for(worker_app, lambda r: r[0].status == "completed", user_id=alice.id)
    assert [i.state for i in rows[0].items] == ["completed"] * 3
    assert (rows[0].pause_reason, rows[0].error) == (None, None)
