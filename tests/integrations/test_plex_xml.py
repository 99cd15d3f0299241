"""MediaNest's Plex client when Plex answers XML although JSON was asked for (a proxy that
drops the Accept header): every read and write gives what the JSON answers give."""

from __future__ import annotations

from pathlib import Path

import pytest

from medianest.core.errors import UpstreamError
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_xml import PlexXMLError, media_container_from_xml
from medianest.integrations.plextv import parse_plex_xml
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.support.http import http_client


@pytest.fixture
async def client(app_factory, make_settings, plex: PlexSimulator, plextv) -> PlexClient:
    app = await app_factory(
        make_settings(plex_url=plex.url, plex_token=OWNER_TOKEN, plex_tv_url=plextv.url)
    )
    made = await app.ctx.integrations.plex()
    assert made is not None
    return made


async def read_everything(client: PlexClient) -> dict[str, object]:
    """What the library pages read, as plain data."""
    page = await client.section_items(1, start=2, size=3, sort="titleSort")
    hubs = await client.search("pioneer")
    return {
        "identity": (await client.identity()).model_dump(),
        "info": (await client.server_info()).model_dump(),
        "sections": [s.model_dump() for s in await client.sections()],
        "page": ([i.model_dump() for i in page.items], page.offset, page.total),
        "sintel": (await client.metadata(103)),
        # A show's children without Plex's "All episodes" entry (no ratingKey: not an item).
        "seasons": [i.model_dump() for i in (await client.children(201)).value.items],
        "episodes": [i.model_dump() for i in (await client.children(206)).value.items],
        # Music and photos: albums are `Directory`, tracks `Track`, photos `Photo` in XML.
        "artists": [i.model_dump() for i in (await client.section_items(4)).items],
        "tracks": [i.model_dump() for i in (await client.children(302)).value.items],
        "photo library": [i.model_dump() for i in (await client.section_items(5)).items],
        "garden": [i.model_dump() for i in (await client.children(404)).value.items],
        "collections": [i.model_dump() for i in (await client.section_collections(1)).value.items],
        "collection items": [
            i.model_dump() for i in (await client.collection_items(1001)).value.items
        ],
        "hubs": [h.model_dump() for h in hubs],
        "missing": await client.metadata(999_999),
    }


async def test_reads_give_the_same_answers_from_xml_as_from_json(
    client: PlexClient, plex: PlexSimulator
) -> None:
    from_json = await read_everything(client)
    plex.set_ignore_accept(True)
    from_xml = await read_everything(client)

    assert from_xml == from_json
    sections = from_xml["sections"]
    assert [loc["path"] for s in sections for loc in s["locations"]] == [
        "/data/movies",
        "/data/tv",
        plex.youtube_dir,
        "/data/music",
        "/data/photos",
        "/data/home-videos",
    ]
    assert [(i["type"], i["key"]) for i in from_xml["photo library"]] == [
        ("photo", "/library/metadata/401/children"),
        ("photo", "/library/metadata/404/children"),
        ("photo", "/library/metadata/408"),
    ]
    assert [(i["type"], i["title"]) for i in from_xml["garden"]] == [
        ("photo", "Roses"),
        ("photo", "Spring"),
    ]
    assert [i["parent_title"] for i in from_xml["tracks"]] == ["Echo Request"] * 3
    assert [(i["type"], i["index"], i["leaf_count"]) for i in from_xml["seasons"]] == [
        ("season", 1, 3),
        ("season", 2, 3),
    ]
    assert [
        (i["index"], i["parent_index"], i["originally_available_at"]) for i in from_xml["episodes"]
    ] == [(1, 2, "2011-01-08"), (2, 2, "2011-01-15"), (3, 2, "2011-01-22")]
    sintel = from_xml["sintel"]
    assert sintel is not None and sintel.files == ["/data/movies/Sintel (2010)/Sintel.mkv"]
    # the second round really was XML: the simulator ignores the JSON the client asks for
    async with http_client() as raw:
        answer = await raw.get(
            plex.url + "/library/sections",
            headers={"X-Plex-Token": OWNER_TOKEN, "Accept": "application/json"},
        )
    assert answer.headers["content-type"].startswith("text/xml")


async def test_writes_parse_the_new_objects_from_xml(
    client: PlexClient, plex: PlexSimulator
) -> None:
    plex.set_ignore_accept(True)
    collection = await client.create_collection(1, "XML Picks", [103, 104])
    assert collection.type == "collection" and collection.title == "XML Picks"
    assert [
        i.rating_key for i in (await client.collection_items(collection.rating_key)).value.items
    ] == [
        "103",
        "104",
    ]
    playlist = await client.create_playlist("XML night", [101, 103])
    assert playlist.title == "XML night" and playlist.leaf_count == 2 and not playlist.smart
    assert [p.title for p in await client.playlists()] == ["XML night"]
    items = await client.playlist_items(playlist.rating_key)
    assert [i.title for i in items] == ["Big Buck Bunny", "Sintel"]
    assert all(i.playlist_item_id for i in items)
    await client.delete_playlist(playlist.rating_key)
    await client.delete_collection(collection.rating_key)
    assert await client.playlists() == []
    health = await client.health_check()
    assert health.status == "online" and health.version


async def test_a_scan_through_the_xml_answers_finds_the_new_file(
    client: PlexClient, plex: PlexSimulator
) -> None:
    plex.set_ignore_accept(True)
    folder = Path(plex.youtube_dir) / "Channel"
    folder.mkdir()
    (folder / "Clip.mp4").write_bytes(b"\0" * 32)
    await client.refresh_section(3, path=str(folder))
    page = await client.section_items(3)
    assert [(i.title, i.files) for i in page.items] == [
        ("Clip", [str((folder / "Clip.mp4").resolve())])
    ]


# A DTD (here entities that would expand), in an encoding where "<!DOCTYPE" is not
# those bytes, must still be refused.
UTF16_DTD = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE m [<!ENTITY a "aaaaaaaa">]>'
    '<MediaContainer title="&a;&a;"/>'
).encode("utf-16")


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"<MediaContainer><Video",
        UTF16_DTD,
        UTF16_DTD.decode("utf-16").replace("UTF-16", "UTF-8").encode(),
    ],
)
def test_the_xml_reader_refuses_what_plex_never_sends(body: bytes) -> None:
    with pytest.raises(PlexXMLError):
        media_container_from_xml(body)


def test_plex_tv_xml_answers_go_through_the_same_parser() -> None:
    with pytest.raises(UpstreamError, match="malformed XML"):
        parse_plex_xml(UTF16_DTD)
    users = parse_plex_xml(b'<MediaContainer><User id="7" title="alice"/></MediaContainer>')
    assert [u.get("title") for u in users.iter("User")] == ["alice"]
