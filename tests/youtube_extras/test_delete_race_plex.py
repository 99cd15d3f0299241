"""Deleting a download while its worker hands it to Plex leaves no collection and no
private playlist of it in Plex, whichever of the two comes first.

The worker is a separate one (`medianest worker`'s run_standalone) that hears of the
delete only through the database. The moments are placed, not raced, by the Plex
simulator holding a request on its real socket: either the worker's request that makes
the collection (or playlist) until the delete has committed, or the deleting request's
rescan (it has loaded the record, which has no Plex id yet) until the worker has made
and recorded the collection (or playlist) and completed the job. The scanned files leave
the library too: whichever side removes files after the request's first rescan (the
request, after its commit; the worker that finds its download deleted) asks Plex to scan
the folder again."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube.conftest import files_under
from tests.youtube_extras.conftest import wait_for

TITLE = "Race Clip"
MAKES = {"collection": ("/library/collections", "POST"), "playlist": ("/playlists", "POST")}
YOUTUBE_SECTION = 3
RESCAN = f"/library/sections/{YOUTUBE_SECTION}/refresh"
PLEX_ROOT = "/srv/plex/youtube"  # the download root as Plex sees it (its own mount)

pytestmark = pytest.mark.timeout(90)


def made_in_plex(plex: PlexSimulator) -> list[str]:
    """Every collection and playlist Plex holds for the download (by its title)."""
    with plex.lock:
        collections = [f"collection {c.title}" for c in plex.library.collections.values()]
        playlists = [f"playlist {p.title}" for p in plex.library.playlists.values()]
    return [name for name in collections + playlists if name.endswith(TITLE)]


@dataclass(frozen=True)
class Race:
    """What every test here starts from: the app, alice (whose download it is), settings
    for a separate worker, and the media host and Plex simulators."""

    app: MediaNestApp
    alice: User
    worker_settings: Settings
    media: MediaServerSimulator
    plex: PlexSimulator
    download_root: Path


@pytest.fixture
def race(
    app: MediaNestApp,
    alice: User,
    extras_settings: Callable[..., Settings],
    media: MediaServerSimulator,
    plex: PlexSimulator,
    plextv: PlexTvSimulator,  # alice's Plex token is known to plex.tv
    download_root: Path,
) -> Race:
    return Race(app, alice, extras_settings(redis_url=None), media, plex, download_root)


@asynccontextmanager
async def separate_worker(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(settings, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30.0)


@asynccontextmanager
async def submitted(race: Race, delivery: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A separate worker running and alice's download submitted: her client and its id."""
    async with (
        separate_worker(race.worker_settings),
        await signed_in_client(race.app, race.alice) as client,
    ):
        race.media.add_feed("race", TITLE, ["clip-one"])
        response = await client.post(
            "/api/youtube/download", json={"url": race.media.feed_url("race"), "delivery": delivery}
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["delivery"] == delivery
        yield client, response.json()["data"]["id"]


@asynccontextmanager
async def deleted_while_downloading(
    race: Race, delivery: str
) -> AsyncIterator[tuple[str, asyncio.Task[httpx.Response]]]:
    """The download submitted, its item held at the media host, and the delete sent: it
    has read the record (no Plex id yet) and waits on its first rescan, which Plex holds
    (`plex.release_requests` lets it go). Yields the id and the deleting request."""
    race.media.hold_item("clip-one")
    race.plex.hold_requests(RESCAN, times=1)  # the deleting request's rescan, not the worker's
    try:
        async with submitted(race, delivery) as (client, download_id):
            alice = race.alice.id
            await wait_for(race.app, lambda rows: item_state(rows) == "downloading", user_id=alice)
            deleting = asyncio.create_task(client.delete(f"/api/youtube/downloads/{download_id}"))
            await until(lambda: race.plex.request_count(RESCAN) >= 1)  # it has read the record
            yield download_id, deleting
    finally:
        race.media.release_item("clip-one")


@pytest.mark.parametrize("delivery", ["collection", "playlist"])
async def test_a_download_deleted_before_its_worker_makes_its_plex_collection_leaves_none(
    delivery: str, race: Race
) -> None:
    plex = race.plex
    path, method = MAKES[delivery]
    plex.hold_requests(path, method)
    async with submitted(race, delivery) as (client, download_id):
        await until(lambda: plex.request_count(path, method) >= 1)  # the worker waits on Plex
        # Real Plex scans in the background, so the items stay listed a while after the
        # delete's rescan; this simulator scans at once, so the rescan is refused instead.
        plex.set_fault("error", path_prefix=RESCAN, times=1)
        deleted = await client.delete(f"/api/youtube/downloads/{download_id}")
        assert deleted.status_code == 204, deleted.text
        plex.release_requests()  # now Plex makes it, for a download that is gone
        await until(lambda: all(r.status == 200 for r in plex.requests(path, method)))
        await until(lambda: made_in_plex(plex) == [], what=lambda: made_in_plex(plex))
        await asyncio.sleep(1.0)  # anything the worker still does after that
        assert made_in_plex(plex) == []
        assert files_under(race.download_root) == []


@pytest.mark.parametrize("delivery", ["collection", "playlist"])
async def test_a_download_deleted_as_its_worker_records_its_plex_collection_leaves_none(
    delivery: str, race: Race
) -> None:
    plex = race.plex
    async with deleted_while_downloading(race, delivery) as (download_id, deleting):
        race.media.release_item("clip-one")
        # The worker makes the collection (or playlist) and completes the job.
        completed = await wait_for(
            race.app, lambda rows: rows[0].status == "completed", user_id=race.alice.id
        )
        assert completed[0].id == uuid.UUID(download_id)
        assert made_in_plex(plex) == [f"{delivery} {TITLE}"]
        assert not deleting.done(), "the request did not wait where the test placed it"
        plex.release_requests()
        assert (await deleting).status_code == 204
        assert made_in_plex(plex) == []
        assert files_under(race.download_root) == []
        # Its rescan came before the files the worker stored went: it scans again.
        assert listed_downloads(plex) == []


async def test_a_download_deleted_during_its_delivery_leaves_no_item_listed_in_plex(
    race: Race, admin: User
) -> None:
    """The deleting request scans before the worker's files are gone, and Plex refuses its
    scan after removing them (busy); the worker, whose delivery made Plex list them,
    finds its download gone and has Plex scan again, at the folder's path as Plex sees it
    (Plex ignores a path outside its folders)."""
    plex, download_root = race.plex, race.download_root
    plex.set_youtube_dir(download_root.resolve(), plex_path=PLEX_ROOT)
    async with await signed_in_client(race.app, admin) as client:
        saved = await client.put("/api/admin/config/youtube", json={"plexPath": PLEX_ROOT})
        assert saved.status_code == 200, saved.text
    async with deleted_while_downloading(race, "collection") as (_, deleting):
        create = MAKES["collection"]
        plex.hold_requests(*create)
        race.media.release_item("clip-one")
        # The worker's own scan listed the file; it now waits to make the collection.
        await until(lambda: plex.request_count(*create) >= 1)
        assert listed_downloads(plex) == ["001 - Clip One"]
        plex.set_fault("error", path_prefix=RESCAN, times=1)  # the request's second scan
        plex.release_requests(RESCAN)  # the request scans (the file is there), deletes
        assert (await deleting).status_code == 204
        assert files_under(download_root) == []
        assert listed_downloads(plex) == ["001 - Clip One"]
        plex.release_requests()  # the worker finds its download gone
        await until(lambda: listed_downloads(plex) == [], what=lambda: listed_downloads(plex))
        assert made_in_plex(plex) == []
        assert files_under(download_root) == []
        assert plex.refresh_calls[-1]["path"] == f"{PLEX_ROOT}/{race.alice.id}/{TITLE}"


def listed_downloads(plex: PlexSimulator) -> list[str]:
    """The titles of the files Plex lists in its YouTube library."""
    with plex.lock:
        items = plex.library.items.values()
        return sorted(i.title for i in items if i.section_id == YOUTUBE_SECTION and i.file)


def item_state(rows: list[object]) -> str | None:
    row = rows[0] if rows else None
    items = getattr(row, "items", None)
    return items[0].state if items else None


async def until(condition: Callable[[], bool], what: Callable[[], object] = lambda: None) -> None:
    deadline = time.monotonic() + 20.0
    while not condition():
        assert time.monotonic() < deadline, f"never reached; last seen {what()}"
        await asyncio.sleep(0.02)
