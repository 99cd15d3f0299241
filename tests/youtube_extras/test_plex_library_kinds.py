"""Real homes' Plex servers hold Music and Photos libraries too, often at a folder above
the downloads (`/data` for Music, `/data/youtube` for an Other Videos library). Plex's
music and photo scanners list no video as a film, so a download handed to such a library
never becomes a collection: MediaNest must pick the video library, or say why it cannot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import (
    HOME_VIDEOS_SECTION,
    MUSIC_SECTION,
    PHOTOS_SECTION,
    YOUTUBE_SECTION,
)
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import all_finished, wait_for

CLIPS = ["001 - Clip One", "002 - Clip Two", "003 - Clip Three"]


@pytest.fixture
def by_path(app_factory: Callable[..., Any], extras_settings: Callable[..., Any]) -> Any:
    """Workers in-process; the library found by path (none configured)."""

    async def start(**overrides: Any) -> MediaNestApp:
        values = {"run_worker_in_process": True, "youtube_library_section": None}
        started: MediaNestApp = await app_factory(extras_settings(**values | overrides))
        return started

    return start


@pytest.fixture
def elsewhere(plex: PlexSimulator, tmp_path: Path) -> None:
    """The "YouTube" library points at an unrelated folder: it holds no download."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    plex.set_youtube_dir(other)


async def download(app: MediaNestApp, user: User, media: MediaServerSimulator) -> Any:
    async with await signed_in_client(app, user) as client:
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        assert response.status_code == 201, response.text
    (row,) = await wait_for(app, all_finished(1), user_id=user.id)
    return row


@pytest.mark.usefixtures("elsewhere")
async def test_a_music_library_above_the_downloads_is_passed_over_for_the_other_videos_one(
    by_path: Callable[..., Any],
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    root = download_root.resolve()
    # Music (section 4, listed first) at the folder above; Home Videos (6) at the root.
    plex.set_section_location(MUSIC_SECTION, str(root.parent))
    plex.set_section_location(HOME_VIDEOS_SECTION, str(root))
    row = await download(await by_path(), alice, media)

    assert row.status == "completed", row.error
    assert row.error is None
    assert row.plex_collection_id is not None
    assert [c["sectionId"] for c in plex.refresh_calls] == [str(HOME_VIDEOS_SECTION)]
    with plex.lock:
        collection = plex.library.collections[int(row.plex_collection_id)]
    assert collection.section_id == HOME_VIDEOS_SECTION
    assert sorted(str(i["title"]) for i in plex.items_in_section(HOME_VIDEOS_SECTION)) == CLIPS


@pytest.mark.usefixtures("elsewhere")
async def test_when_only_music_and_photos_hold_the_downloads_the_download_and_admin_say_why(
    by_path: Callable[..., Any],
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    root = download_root.resolve()
    plex.set_section_location(MUSIC_SECTION, str(root.parent))
    plex.set_section_location(PHOTOS_SECTION, str(root))
    app = await by_path()
    row = await download(app, alice, media)

    assert row.status == "completed"  # the files are kept; only Plex was not updated
    assert row.plex_collection_id is None
    assert row.error is not None and '"Music" is a Music library' in row.error
    assert plex.refresh_calls == []  # no scan asked of a library that cannot list them

    async with await signed_in_client(app, admin) as client:
        view = (await client.get("/api/admin/youtube/plex")).json()["data"]
        tested = (await client.post("/api/admin/youtube/plex/test", json={})).json()["data"]
        page = await client.get("/admin/plex-downloads", headers={"Accept": "text/html"})
    by_id = {lib["id"]: lib for lib in view["libraries"]}
    assert view["holdingLibraryId"] is None
    assert '"Music" is a Music library' in view["problem"]
    assert (by_id["4"]["kind"], by_id["4"]["holdsDownloads"]) == ("music", True)
    assert (by_id["5"]["kind"], by_id["5"]["holdsDownloads"]) == ("photos", True)
    assert by_id["6"]["kind"] == "otherVideos" and by_id["6"]["unusable"] is None
    assert "Other Videos" in by_id["5"]["unusable"]
    assert tested["ok"] is False and "Music library" in tested["message"]
    assert tested["libraryId"] is None
    assert 'data-field="library-unusable"' in page.text
    assert list(root.iterdir()) == [alice_folder(root, alice)]  # no marker left behind


def alice_folder(root: Path, alice: User) -> Path:
    return root / str(alice.id)


async def test_a_configured_library_that_is_not_a_video_library_is_refused_with_the_reason(
    by_path: Callable[..., Any],
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    # The YouTube library still holds the folder, but the admin named the Music library.
    row = await download(await by_path(youtube_library_section=str(MUSIC_SECTION)), alice, media)

    assert row.status == "completed"
    assert row.plex_collection_id is None
    assert row.error is not None
    assert 'configured Plex library "Music" is a Music library' in row.error
    assert plex.refresh_calls == []
    assert plex.items_in_section(YOUTUBE_SECTION) == []
