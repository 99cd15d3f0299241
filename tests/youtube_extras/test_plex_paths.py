"""Plex as it is really deployed: it sees the download folder at a path of its own (a bind
mount, a symlink, a Windows drive). The simulator scans only through its own root, so a
path MediaNest does not translate finds nothing, as it would in Plex."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import all_finished, wait_for

CLIPS = ["001 - Clip One", "002 - Clip Two", "003 - Clip Three"]


@pytest.fixture
def plex_view(download_root: Path, tmp_path: Path) -> Iterator[Path]:
    """The download root mounted at another path (`mount --bind`; a symlink where mounting
    is not allowed), as a Plex container's volume would be."""
    download_root.mkdir(parents=True, exist_ok=True)
    view = tmp_path / "plex-container" / "media" / "youtube"
    view.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "--bind", str(download_root), str(view)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        view.rmdir()
        view.symlink_to(download_root, target_is_directory=True)
    yield view
    if mounted.returncode == 0:
        subprocess.run(["umount", str(view)], check=True)


@pytest.fixture
def mapped_app(
    app_factory: Callable[[Settings], Any],
    extras_settings: Callable[..., Settings],
    plex: PlexSimulator,
    plex_view: Path,
) -> Callable[..., Any]:
    """Workers in-process, Plex scanning `plex_view`; the library found by path."""
    plex.set_youtube_dir(plex_view)

    async def start(**overrides: Any) -> MediaNestApp:
        values: dict[str, Any] = {
            "run_worker_in_process": True,
            "youtube_library_section": None,
            "youtube_plex_path": str(plex_view),
        }
        started: MediaNestApp = await app_factory(extras_settings(**values | overrides))
        return started

    return start


async def plex_titles(plex: PlexSimulator, collection_id: str) -> list[str]:
    titles = []
    for rating_key in plex.collection_items(int(collection_id)):
        item = plex.item(rating_key)
        assert item is not None
        titles.append(str(item["title"]))
    return sorted(titles)


async def test_a_playlist_becomes_a_collection_when_plex_sees_the_folder_elsewhere(
    mapped_app: Callable[..., Any],
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    plex_view: Path,
    download_root: Path,
) -> None:
    app = await mapped_app()
    async with await signed_in_client(app, alice) as client:
        # MediaNest's Plex pages cache the (empty) library for ten minutes...
        assert (await client.get("/api/plex/library/3/items")).json()["data"] == []
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        assert response.status_code == 201, response.text
        rows = await wait_for(app, all_finished(1), user_id=alice.id)
        # ...yet show the download's items and collection as soon as it is delivered.
        items = (await client.get("/api/plex/library/3/items?sort=title")).json()["data"]
        collections = (await client.get("/api/plex/collections?libraryId=3")).json()["data"]
        row = await client.get(
            f"/youtube/downloads/{rows[0].id}/row", headers={"Accept": "text/html"}
        )

    assert rows[0].status == "completed", rows[0].error
    assert rows[0].error is None
    assert rows[0].plex_collection_id is not None
    assert await plex_titles(plex, rows[0].plex_collection_id) == CLIPS
    assert [i["title"] for i in items] == CLIPS
    assert [(c["id"], c["title"]) for c in collections] == [
        (rows[0].plex_collection_id, "Loopback Test Channel")
    ]
    assert f'href="/plex/collections/{rows[0].plex_collection_id}"' in row.text
    assert "shared collection" in row.text
    # Plex was asked to scan its own path, and lists the files under it.
    folder = f"{plex_view}/{alice.id}/Loopback Test Channel"
    assert [c["path"] for c in plex.refresh_calls] == [folder]
    files = [str(i["Media"][0]["Part"][0]["file"]) for i in plex.items_in_section(3)]
    assert sorted(files) == [f"{folder}/{clip}.mp4" for clip in CLIPS]
    assert not any(f.startswith(str(download_root)) for f in files)


async def test_a_playlist_becomes_a_private_playlist_when_plex_sees_the_folder_elsewhere(
    mapped_app: Callable[..., Any],
    alice: User,
    bob: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    app = await mapped_app()
    async with await signed_in_client(app, alice) as client:
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "playlist"}
        )
        assert response.status_code == 201, response.text
        rows = await wait_for(app, all_finished(1), user_id=alice.id)

    assert rows[0].status == "completed", rows[0].error
    assert rows[0].error is None
    assert rows[0].delivery == "playlist"
    playlist_id = rows[0].plex_playlist_id
    assert playlist_id is not None
    with plex.lock:
        playlist = plex.library.playlists[int(playlist_id)]
        titles = sorted(plex.library.items[rk].title for _, rk in playlist.entries)
    assert playlist.owner == "alice"
    assert titles == CLIPS
    async with await signed_in_client(app, alice) as client:
        shown = (await client.get("/api/plex/playlists")).json()["data"]
        detail = (await client.get(f"/api/plex/playlists/{playlist_id}")).json()["data"]
        row = await client.get(
            f"/youtube/downloads/{rows[0].id}/row", headers={"Accept": "text/html"}
        )
        page = await client.get("/plex", headers={"Accept": "text/html"})
    assert [(p["id"], p["title"]) for p in shown] == [(playlist_id, "Loopback Test Channel")]
    assert sorted(i["title"] for i in detail["items"]) == CLIPS
    assert f'href="/plex/playlists/{playlist_id}"' in row.text
    assert "your private playlist" in row.text
    assert f'href="/plex/playlists/{playlist_id}"' in page.text
    async with await signed_in_client(app, bob) as client:  # not bob's playlist
        assert (await client.get("/api/plex/playlists")).json()["data"] == []
        assert (await client.get(f"/api/plex/playlists/{playlist_id}")).status_code == 404
    for item in plex.items_in_section(3):
        assert [label["tag"] for label in item["Label"]] == ["medianest:alice"]
    assert ALICE_SERVER_TOKEN in plex.tokens


async def test_without_the_plex_path_the_download_says_no_library_holds_it(
    mapped_app: Callable[..., Any],
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    app = await mapped_app(youtube_plex_path=None)
    async with await signed_in_client(app, alice) as client:
        await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        rows = await wait_for(app, all_finished(1), user_id=alice.id)

    assert rows[0].status == "completed"
    assert rows[0].plex_collection_id is None
    assert rows[0].error is not None
    assert "no Plex library holds" in rows[0].error
    assert plex.refresh_calls == []


async def test_a_plex_server_on_windows_gets_windows_paths(
    mapped_app: Callable[..., Any],
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    windows_root = "D:\\Media\\YouTube"
    plex.set_youtube_dir(download_root, plex_path=windows_root)
    # The admin types it in another case and with forward slashes: Windows does not care.
    app = await mapped_app(youtube_plex_path="d:/media/youtube")
    async with await signed_in_client(app, alice) as client:
        await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        rows = await wait_for(app, all_finished(1), user_id=alice.id)

    assert rows[0].status == "completed", rows[0].error
    assert rows[0].error is None
    assert rows[0].plex_collection_id is not None
    assert await plex_titles(plex, rows[0].plex_collection_id) == CLIPS
    assert [c["path"] for c in plex.refresh_calls] == [
        f"d:\\media\\youtube\\{alice.id}\\Loopback Test Channel"
    ]


async def test_the_admin_sets_the_plex_path_sees_which_library_holds_it_and_tests_it(
    mapped_app: Callable[..., Any],
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    plex_view: Path,
    download_root: Path,
) -> None:
    app = await mapped_app(youtube_plex_path=None)  # only the admin page's value
    async with await signed_in_client(app, admin) as client:
        before = (await client.get("/api/admin/youtube/plex")).json()["data"]
        assert before["holdingLibraryId"] is None
        assert str(download_root.resolve()) in before["problem"]
        failed = (await client.post("/api/admin/youtube/plex/test", json={})).json()["data"]
        assert failed["ok"] is False and "no Plex library holds" in failed["message"]
        # A draft path is tested before it is saved.
        draft = await client.post("/api/admin/youtube/plex/test", json={"plexPath": str(plex_view)})
        assert draft.json()["data"]["ok"] is True, draft.text
        assert draft.json()["data"]["markerPath"].startswith(f"{plex_view}/medianest-check/")
        assert list(download_root.iterdir()) == []  # the marker is gone again
        bad = await client.put("/api/admin/config/youtube", json={"plexPath": "media/youtube"})
        assert bad.status_code in (400, 422) and bad.json()["success"] is False

        saved = await client.put("/api/admin/config/youtube", json={"plexPath": str(plex_view)})
        assert saved.json()["data"]["plexPath"] == str(plex_view)
        assert saved.json()["data"]["plexPathInUse"] == str(plex_view)
        after = (await client.get("/api/admin/youtube/plex")).json()["data"]
        holding = [lib["id"] for lib in after["libraries"] if lib["holdsDownloads"]]
        assert (after["holdingLibraryId"], holding, after["problem"]) == ("3", ["3"], None)
        page = await client.get("/admin/plex-downloads", headers={"Accept": "text/html"})
        assert 'data-library-id="3" data-holds-downloads' in page.text
        tested = await client.post(
            "/admin/plex-downloads/test", data={"plexPath": ""}, headers={"HX-Request": "true"}
        )
        assert "Plex found the marker" in tested.text

    # The runner uses the admin's path: the download becomes a collection.
    async with await signed_in_client(app, alice) as client:
        await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        rows = await wait_for(app, all_finished(1), user_id=alice.id)
    assert rows[0].error is None and rows[0].plex_collection_id is not None
