"""The poster proxy: library images only (no SSRF), caching headers, revalidation, and
the Plex token staying on the server side."""

from __future__ import annotations

import httpx
import pytest

from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN

POSTER = "/library/metadata/101/thumb/1700000060"


async def test_poster_is_proxied_with_caching_headers(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    answer = await viewer.get("/api/plex/image", params={"path": POSTER})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG")
    assert answer.headers["cache-control"] == "private, max-age=86400"
    assert answer.headers["etag"].startswith('"')
    assert answer.headers["x-content-type-options"] == "nosniff"
    sent = plex_sim.log.entries(POSTER)[-1]
    # Fetched as the viewer (their own token for the server), not as the owner.
    assert sent.headers["x-plex-token"] == ALICE_SERVER_TOKEN
    assert "X-Plex-Token" not in sent.query


async def test_unchanged_poster_is_revalidated_with_304(viewer: httpx.AsyncClient) -> None:
    first = await viewer.get("/api/plex/image", params={"path": POSTER})
    again = await viewer.get(
        "/api/plex/image",
        params={"path": POSTER},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


async def test_collection_posters_and_resized_images(viewer: httpx.AsyncClient) -> None:
    composite = await viewer.get(
        "/api/plex/image", params={"path": "/library/collections/1001/composite/1700000000"}
    )
    resized = await viewer.get("/api/plex/image", params={"path": POSTER, "width": 64})
    assert composite.status_code == 200
    assert resized.status_code == 200
    assert resized.content != composite.content


@pytest.mark.parametrize(
    "path",
    [
        "http://169.254.169.254/latest/meta-data",
        "//evil.example/library/metadata/1/thumb",
        "/library/metadata/101/thumb/../../../:/prefs",
        "/:/prefs",
        "/library/sections",
        "/library/metadata/101",
        "/library/metadata/101/file",
        "/photo/:/transcode?url=http://evil.example/",
        "library/metadata/101/thumb",
        "/library/metadata/101/thumb?X-Plex-Token=x",
    ],
)
async def test_only_library_image_paths_are_fetched(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator, path: str
) -> None:
    answer = await viewer.get("/api/plex/image", params={"path": path})
    assert answer.status_code in (400, 422)
    # (The status monitor may check `/`, and `/identity` (no token) is asked once to find
    # the viewer's token for this server on plex.tv; nothing else may reach Plex.)
    assert [e.path for e in plex_sim.log.entries() if e.path not in ("/", "/identity")] == []


async def test_unknown_image_is_404(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get("/api/plex/image", params={"path": "/library/metadata/9999/thumb/1"})
    assert answer.status_code == 404


async def test_image_is_503_while_plex_is_down(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    plex_sim.set_fault("error")
    answer = await viewer.get("/api/plex/image", params={"path": POSTER})
    assert answer.status_code == 503


async def test_size_limits_on_resizing(viewer: httpx.AsyncClient) -> None:
    for size in (0, 5000):
        answer = await viewer.get("/api/plex/image", params={"path": POSTER, "width": size})
        assert answer.status_code in (400, 422)
