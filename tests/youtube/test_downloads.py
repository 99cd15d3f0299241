"""Downloads end to end with the real yt-dlp against the loopback media server, workers
running inside the app, and the Plex simulator receiving the refresh and the collection."""

from __future__ import annotations

import asyncio
import grp
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.jobs.worker import workers_of
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import prepare_bootstrap_admin, signed_in_client
from tests.youtube.conftest import client_for, files_under, finished, wait_for_download


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_playlist_lands_in_the_users_folder_and_becomes_a_plex_collection(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.status_code == 201, response.text
        assert response.json()["data"]["status"] == "queued"
        download_id = response.json()["data"]["id"]
        data = await wait_for_download(client, download_id, finished)

    assert data["status"] == "completed", data
    assert data["title"] == "Loopback Test Channel"
    assert [i["state"] for i in data["items"]] == ["completed"] * 3
    assert data["progress"] == 100
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    names = sorted(p.name for p in files_under(folder))
    assert names == ["001 - Clip One.mp4", "002 - Clip Two.mp4", "003 - Clip Three.mp4"]
    assert [i["file"] for i in data["items"]] == [f"Loopback Test Channel/{name}" for name in names]
    assert mode(download_root / str(alice.id)) == 0o2750
    assert mode(folder) == 0o2750
    assert all(mode(p) == 0o640 for p in files_under(folder))

    refreshes = plex.requests(path="/library/sections/3/refresh")
    assert refreshes and parse_qs(refreshes[0].query)["path"] == [str(folder.resolve())]
    collection_id = data["plexCollectionId"]
    assert collection_id is not None
    assert len(plex.collection_items(int(collection_id))) == 3
    created = plex.requests(path="/library/collections", method="POST")
    assert parse_qs(created[0].query)["title"] == ["Loopback Test Channel"]


async def test_a_failed_item_does_not_fail_the_playlist_and_says_why(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.set_item_status("clip-two", 404)
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed"
    states = {i["title"]: i["state"] for i in data["items"]}
    assert states == {"Clip One": "completed", "Clip Two": "failed", "Clip Three": "completed"}
    failed = next(i for i in data["items"] if i["state"] == "failed")
    assert "404" in failed["error"] and failed["errorKind"] == "unavailable"
    assert data["failedItems"] == 1 and "1 of 3 items failed" in data["error"]
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    assert [p.name for p in files_under(folder)] == ["001 - Clip One.mp4", "003 - Clip Three.mp4"]


async def test_titles_with_path_tricks_stay_inside_the_users_folder(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.add_feed("tricky", "../../etc/passwd", [])
    for title in ("..", "/abs/olute", "..\\..\\win", "Ünïcødé ☃ " + "x" * 300):
        media.add_item(title, feed="tricky")
    async with await client_for(worker_app, alice) as client:
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url("tricky")}
        )
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed", data
    user_dir = (download_root / str(alice.id)).resolve()
    written = files_under(download_root)
    assert len(written) == 4
    for path in written:
        assert path.resolve().is_relative_to(user_dir)
        assert path.parent == user_dir / "etc passwd"
        assert len(path.name.encode()) <= 255
    assert any("Ünïcødé ☃" in p.name for p in written)
    assert not (download_root.parent / "etc").exists()


async def test_a_playlist_named_like_a_windows_device_gets_a_folder_a_share_can_hold(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    """Windows refuses COM¹-COM³ and LPT¹-LPT³ as names, like COM1 (Microsoft Learn,
    "Naming Files, Paths, and Namespaces"): a download folder on an SMB share is made by
    Windows' rules, so the playlist's folder must not be called that."""
    media.add_feed("device", "COM¹", [])
    media.add_item("Serial Story", feed="device")
    async with await client_for(worker_app, alice) as client:
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url("device")}
        )
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed", data
    [written] = files_under(download_root / str(alice.id))
    assert written.parent.name == "playlist COM¹"


@pytest.mark.parametrize("title", ["Trailers", "Shorts", "Extra Credits", "Samples & loops"])
async def test_a_playlist_named_like_plex_extras_still_reaches_plex(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
    title: str,
) -> None:
    """Plex's scanner does not go into a folder called "Trailers", "Shorts", "Extra…",
    "Sample…" or "Bonus…" below the library's top level (Scanners.bundle VideoFiles.py
    `ignore_dirs`; the simulator's plex_scanner.py): the playlist's folder must not be."""
    media.add_feed("named", title, [])
    media.add_item("First Clip", feed="named")
    media.add_item("Second Clip", feed="named")
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url("named")})
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed", data
    assert data["plexCollectionId"] is not None, data
    assert len(plex.collection_items(int(data["plexCollectionId"]))) == 2
    created = plex.requests(path="/library/collections", method="POST")
    assert parse_qs(created[0].query)["title"] == [title]  # Plex shows the playlist's name


async def test_videos_titled_like_samples_and_trailers_still_reach_plex(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    """Plex leaves out a file whose path has "-sample", "sample." (under 300 MB),
    "-trailer." or "-short." (VideoFiles.py `ignore_samples`, `ignore_trailers`,
    `ignore_extras`): an uploader's title must not make a video one of those."""
    media.add_feed("music", "Beat Making", [])
    titles = ["Drum sample-pack review", "Ambient sample", "Dune-Trailer", "Cat jump-Short"]
    for title in titles:
        media.add_item(title, feed="music")
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url("music")})
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed", data
    assert data["plexCollectionId"] is not None, data
    assert len(plex.collection_items(int(data["plexCollectionId"]))) == len(titles)


async def test_audio_quality_keeps_only_an_m4a_file(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.add_feed("one", "Single Track", [])
    media.add_item("Only Song", feed="one")
    async with await client_for(worker_app, alice) as client:
        response = await client.post(
            "/api/youtube/download",
            json={"url": media.feed_url("one"), "quality": "audio"},
        )
        data = await wait_for_download(client, response.json()["data"]["id"], finished)

    assert data["status"] == "completed", data
    assert data["quality"] == "audio"
    names = [p.name for p in files_under(download_root / str(alice.id))]
    assert names == ["001 - Only Song.m4a"]


async def test_deleting_a_finished_download_removes_files_record_and_collection(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        download_id = response.json()["data"]["id"]
        data = await wait_for_download(client, download_id, finished)
        collection_id = int(data["plexCollectionId"])
        assert collection_id in plex.library.collections

        deleted = await client.delete(f"/api/youtube/downloads/{download_id}")
        assert deleted.status_code == 204
        assert (await client.get(f"/api/youtube/downloads/{download_id}")).status_code == 404

    assert files_under(download_root / str(alice.id)) == []
    assert collection_id not in plex.library.collections
    assert plex.items_in_section(3) == []  # Plex was asked to rescan the folder


async def test_deleting_a_download_stored_under_an_older_name_rule_removes_its_file(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    """A file keeps the name it was stored under: a download made before a title rule
    changed (here "Dune-Trailer", kept with its hyphen before Plex's rules were followed)
    is deleted by its stored name, not by the name its title would get now."""
    media.add_feed("old", "Old Rules", [])
    media.add_item("Dune-Trailer", feed="old")
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url("old")})
        download_id = response.json()["data"]["id"]
        await wait_for_download(client, download_id, finished)
        [written] = files_under(download_root / str(alice.id))
        older = written.with_name("001 - Dune-Trailer.mp4")
        written.rename(older)
        async with session_scope(worker_app.ctx.session_factory) as session:
            job = await session.get(YoutubeDownload, uuid.UUID(download_id))
            assert job is not None
            job.items = [
                i.model_copy(update={"file": f"Old Rules/{older.name}"}) for i in job.items
            ]

        assert (await client.delete(f"/api/youtube/downloads/{download_id}")).status_code == 204

    assert files_under(download_root / str(alice.id)) == []


def another_group() -> int:
    """A real group of this system that is not this process's own."""
    return next(g.gr_gid for g in grp.getgrall() if g.gr_gid not in (os.getgid(), 0))


async def wait_for_partial_file(root: Path, timeout: float = 20.0) -> Path:
    """The first `.part` file yt-dlp opens under `root`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        partial = next((p for p in root.rglob("*.part") if p.is_file()), None)
        if partial is not None:
            return partial
        await asyncio.sleep(0.02)
    raise AssertionError(f"no .part file appeared under {root}")


async def test_every_folder_and_file_a_download_writes_belongs_to_the_plex_group(
    app_factory: Callable[[Settings], Any],
    youtube_settings: Callable[..., Settings],
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    plex_group = another_group()
    app = await app_factory(youtube_settings(run_worker_in_process=True, download_gid=plex_group))
    # A hardened host's umask (077) would make yt-dlp's files 0600: Plex's group locked out.
    umask_before = os.umask(0o077)
    media.set_throttle(20_000)  # slow enough to look at the files while they are written
    try:
        async with await client_for(app, alice) as client:
            response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
            partial = await wait_for_partial_file(download_root / str(alice.id))
            # Still downloading: the partial file already has its final mode and group.
            assert partial.suffix == ".part", partial
            assert (mode(partial), partial.stat().st_gid) == (0o640, plex_group), partial
            media.set_throttle(None)
            data = await wait_for_download(client, response.json()["data"]["id"], finished)
    finally:
        media.set_throttle(None)
        os.umask(umask_before)

    assert data["status"] == "completed", data
    assert os.umask(umask_before) == umask_before  # the download gave the umask back
    written = sorted((download_root / str(alice.id)).rglob("*"))
    folders = [download_root / str(alice.id)] + [p for p in written if p.is_dir()]
    files = [p for p in written if not p.is_dir()]
    assert len(folders) == 2 and len(files) == 3
    for folder in folders:  # Plex's group reads and enters; other users get nothing
        assert (mode(folder), folder.stat().st_gid) == (0o2750, plex_group), folder
    for file in files:
        assert (mode(file), file.stat().st_gid) == (0o640, plex_group), file


async def test_deleting_a_repeated_download_leaves_the_earlier_ones_files(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    """M3: the same playlist downloaded twice shares folder and file names; deleting the
    second record used to remove the files the first (still "completed") pointed at."""
    async with await client_for(worker_app, alice) as client:
        jobs = []
        for _ in range(2):
            response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
            assert response.status_code == 201, response.text
            jobs.append(await wait_for_download(client, response.json()["data"]["id"], finished))
        first, second = jobs
        assert first["status"] == second["status"] == "completed"
        on_disk = sorted(p.name for p in files_under(download_root / str(alice.id)))
        assert on_disk

        assert (await client.delete(f"/api/youtube/downloads/{second['id']}")).status_code == 204
        assert sorted(p.name for p in files_under(download_root / str(alice.id))) == on_disk
        kept = await client.get(f"/api/youtube/downloads/{first['id']}")
        assert kept.json()["data"]["status"] == "completed"

        # The last record referring to the files takes them with it.
        assert (await client.delete(f"/api/youtube/downloads/{first['id']}")).status_code == 204
    assert files_under(download_root / str(alice.id)) == []


async def test_deleting_a_user_removes_their_downloaded_files_and_folder(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    """L9: the user's rows went with them, their files stayed on disk with no record."""
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        await wait_for_download(client, response.json()["data"]["id"], finished)
    assert files_under(download_root / str(alice.id))

    admin = await prepare_bootstrap_admin(worker_app)
    async with await signed_in_client(worker_app, admin) as admin_client:
        deleted = await admin_client.delete(f"/api/admin/users/{alice.id}")
        assert deleted.status_code == 204, deleted.text
    for _ in range(50):  # the folder goes once the deletion has committed
        if not (download_root / str(alice.id)).exists():
            break
        await asyncio.sleep(0.1)
    assert not (download_root / str(alice.id)).exists()


async def test_a_repeated_download_deleted_while_its_worker_runs_leaves_the_earlier_ones_files(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    """The worker of a deleted download removes the files it wrote (jobs/runner.py
    `_remove_if_deleted`) by the same rule as the deleting request: not those another
    record refers to. The playlist grew between two downloads of it: the second shares the
    first's folder and its first file, and is deleted while its new item downloads."""
    media.add_feed("grows", "Growing Playlist", ["clip-one"])
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url("grows")})
        first = await wait_for_download(client, response.json()["data"]["id"], finished)
        assert first["status"] == "completed", first
        earlier = sorted(p.name for p in files_under(download_root / str(alice.id)))
        assert earlier

        media.add_item("Clip Four", slug="clip-four", feed="grows")
        media.hold_item("clip-four")
        try:
            response = await client.post(
                "/api/youtube/download", json={"url": media.feed_url("grows")}
            )
            second = response.json()["data"]["id"]
            await wait_for_download(
                client, second, lambda d: any(i["state"] == "downloading" for i in d["items"])
            )
            assert (await client.delete(f"/api/youtube/downloads/{second}")).status_code == 204
        finally:
            media.release_item("clip-four")
        deadline = asyncio.get_running_loop().time() + 10
        while workers_of(worker_app.ctx).running:  # the cancelled worker has cleaned up
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)

        assert sorted(p.name for p in files_under(download_root / str(alice.id))) == earlier
        kept = await client.get(f"/api/youtube/downloads/{first['id']}")
        assert kept.json()["data"]["status"] == "completed"
