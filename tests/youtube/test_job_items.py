"""`YoutubeDownload.items` is typed (`JobItem`) but stored as the JSON it always was: a
row written before the model existed loads, and writing it back leaves it unchanged."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import Uuid, bindparam, text, update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.models import JobItem, YoutubeDownload

# Exactly what the runner stored before `JobItem`: a subscription item with its number,
# a failed one, one half downloaded (float progress) and a pending one (int progress).
STORED_BEFORE: list[dict[str, Any]] = [
    {
        "index": 0,
        "key": "vid-a",
        "title": "Clip A",
        "url": "https://media.test/a",
        "file": "Feed/008 - Clip A.mp4",
        "state": "completed",
        "error": None,
        "errorKind": None,
        "bytes": 12345,
        "progress": 100,
        "number": 8,
    },
    {
        "index": 1,
        "key": "vid-b",
        "title": "Clip B",
        "url": "https://media.test/b",
        "file": None,
        "state": "failed",
        "error": "HTTP Error 404",
        "errorKind": "unavailable",
        "bytes": 0,
        "progress": 0,
    },
    {
        "index": 2,
        "key": "vid-c",
        "title": "Clip C",
        "url": "https://media.test/c",
        "file": None,
        "state": "downloading",
        "error": None,
        "errorKind": None,
        "bytes": 0,
        "progress": 37.5,
    },
]


def _id_param() -> Any:
    return bindparam("id", type_=Uuid())


async def _store_raw(app: MediaNestApp, job_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
    """Write the column as plain JSON text, past the model, as an old version would have."""
    value = "CAST(:items AS JSONB)" if not app.ctx.settings.is_sqlite else ":items"
    statement = text(f"UPDATE youtube_downloads SET items = {value} WHERE id = :id")
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            statement.bindparams(_id_param()), {"items": json.dumps(items), "id": job_id}
        )


async def _raw(app: MediaNestApp, job_id: uuid.UUID) -> str:
    column = "items" if app.ctx.settings.is_sqlite else "items::text"
    statement = text(f"SELECT {column} FROM youtube_downloads WHERE id = :id")
    async with session_scope(app.ctx.session_factory) as session:
        found = await session.scalar(statement.bindparams(_id_param()), {"id": job_id})
    assert isinstance(found, str)
    return found


async def _job_with(app: MediaNestApp, user: User, items: list[dict[str, Any]]) -> uuid.UUID:
    async with session_scope(app.ctx.session_factory) as session:
        job = YoutubeDownload(user_id=user.id, url="https://media.test/feed", status="completed")
        session.add(job)
    await _store_raw(app, job.id, items)
    return job.id


async def _load(app: MediaNestApp, job_id: uuid.UUID) -> list[JobItem]:
    async with session_scope(app.ctx.session_factory) as session:
        job = await session.get(YoutubeDownload, job_id)
        assert job is not None
        return job.items


async def _write_back(app: MediaNestApp, job_id: uuid.UUID, items: list[JobItem]) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(YoutubeDownload).where(YoutubeDownload.id == job_id).values(items=items)
        )


async def test_a_row_stored_before_the_model_loads_typed_and_round_trips(
    app: MediaNestApp, alice: User
) -> None:
    job_id = await _job_with(app, alice, STORED_BEFORE)
    before = await _raw(app, job_id)

    items = await _load(app, job_id)
    assert [type(i) for i in items] == [JobItem] * 3
    assert (items[0].state, items[0].number, items[0].bytes) == ("completed", 8, 12345)
    assert (items[1].error_kind, items[1].number) == ("unavailable", None)
    assert [i.progress for i in items] == [100, 0, 37.5]
    assert [type(i.progress) for i in items] == [int, int, float]

    await _write_back(app, job_id, items)
    assert await _raw(app, job_id) == before  # same keys, order, numbers: same text
    assert json.loads(before) == STORED_BEFORE


async def test_the_api_shows_a_stored_row_as_before(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    job_id = await _job_with(app, alice, STORED_BEFORE)
    answer = await alice_client.get(f"/api/youtube/downloads/{job_id}")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["totalItems"], data["completedItems"], data["failedItems"]) == (3, 1, 1)
    assert data["items"][1] == {
        "index": 1,
        "title": "Clip B",
        "state": "failed",
        "progress": 0,
        "file": None,
        "bytes": 0,
        "error": "HTTP Error 404",
        "errorKind": "unavailable",
        "liveStatus": None,  # added for live and upcoming items: none on an older row
        "note": None,
    }
    assert data["items"][2]["progress"] == 37.5


async def test_partial_and_unknown_keys_are_kept_as_they_were(
    app: MediaNestApp, alice: User
) -> None:
    stored = [{"title": "One", "state": "completed"}, {"index": 1, "addedLater": {"x": 1}}]
    job_id = await _job_with(app, alice, stored)
    before = await _raw(app, job_id)

    items = await _load(app, job_id)
    assert (items[0].title, items[0].index, items[0].key) == ("One", 0, "")  # defaults
    assert (items[1].state, items[1].model_extra) == ("pending", {"addedLater": {"x": 1}})

    await _write_back(app, job_id, items)
    assert await _raw(app, job_id) == before


async def test_a_new_item_is_stored_with_every_key(app: MediaNestApp, alice: User) -> None:
    item = JobItem.pending(0, key="vid-a", title="Clip A", url="https://media.test/a")
    item.state, item.file, item.bytes, item.progress = "completed", "Feed/001 - Clip A.mp4", 9, 100
    job_id = await _job_with(app, alice, [])
    await _write_back(app, job_id, [item])
    assert json.loads(await _raw(app, job_id)) == [
        {
            "index": 0,
            "key": "vid-a",
            "title": "Clip A",
            "url": "https://media.test/a",
            "file": "Feed/001 - Clip A.mp4",
            "state": "completed",
            "error": None,
            "errorKind": None,
            "bytes": 9,
            "progress": 100,
            "liveStatus": None,
            "note": None,
        }
    ]
