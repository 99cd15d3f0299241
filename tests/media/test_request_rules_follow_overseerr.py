"""What can still be requested is what Overseerr itself would take (entity/MediaRequest.ts
`request`, sct/overseerr@46a9b244 and seerr-team/seerr@f74306ed), over real HTTP to the
simulator, which follows that code (medianest_simulators/overseerr_requests.py):

- a film already in Plex is refused by MediaNest: Overseerr's duplicate check reads only
  the title's requests, so it would request (and download) again a film its Plex scan
  found, or whose request Seerr completed;
- a 4K request is its own: the ordinary version stays free to request;
- a season partly in Plex, or held by a FAILED request, is taken: Overseerr drops it
  without a word (202 when nothing is left), so MediaNest says why instead;
- season 0 ("Specials") is never offered nor asked for, though Overseerr's "all" has it.
"""

from __future__ import annotations

import httpx
import pytest

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import CATALOGUE, FAILED, PARTIALLY_AVAILABLE, Title

BIG_BUCK_BUNNY = 10378  # in Plex (the simulator's Plex scan): nobody requested it
SPRITE_FRIGHT = 400007
RENDER_FARM = 500003  # two seasons, nothing requested
KEYFRAMES = 500004  # one season, and TMDB's "Specials" (season 0)
HTML = {"HX-Request": "true", "Accept": "text/html"}
POST = ("/api/v1/request", "POST")


async def ask(client: httpx.AsyncClient, media_type: str, tmdb_id: int, **more: object) -> dict:
    answer = await client.post(
        "/api/media/request", json={"mediaType": media_type, "tmdbId": tmdb_id} | more
    )
    return {"status": answer.status_code} | answer.json()


async def found(client: httpx.AsyncClient, query: str) -> dict:
    answer = await client.get("/api/media/search", params={"query": query})
    assert answer.status_code == 200, answer.text
    result: dict = answer.json()["data"][0]
    return result


def upstream_request(
    sim: OverseerrSimulator, media_type: str, tmdb_id: int, seasons: list[int], *, is4k: bool
) -> int:
    """A request made in Overseerr itself (by bob), not through MediaNest."""
    media = sim.media_for(CATALOGUE[(media_type, tmdb_id)])
    made = sim.add_request(media, sim.users[3], is4k=is4k, seasons=seasons, extra={})
    return made.id


@pytest.mark.parametrize("server", ["overseerr", "seerr"])
async def test_a_film_already_in_plex_is_refused_before_overseerr_is_asked(
    server: str, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    tmdb_id = BIG_BUCK_BUNNY  # Overseerr: found in Plex by its scan, no request of it
    if server == "seerr":
        overseerr_sim.behave_as_seerr()
        # Requested in Seerr itself, then in Plex: Seerr COMPLETES the request.
        overseerr_sim.complete_request(
            upstream_request(overseerr_sim, "movie", SPRITE_FRIGHT, [], is4k=False)
        )
        tmdb_id = SPRITE_FRIGHT
    upstream = dict(overseerr_sim.media_requests)
    assert (await found(alice_client, CATALOGUE[("movie", tmdb_id)].title))[
        "availability"
    ] == "available"
    answer = await ask(alice_client, "movie", tmdb_id)
    assert answer["status"] == 409, answer
    assert answer["error"]["message"] == "This film is already in Plex."
    assert answer["error"]["details"] == {"reason": "available"}
    assert overseerr_sim.log.entries(*POST) == []  # Overseerr would have made it
    assert overseerr_sim.media_requests == upstream


async def test_a_film_asked_for_again_after_a_declined_request_is_not_asked_a_third_time(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """Overseerr judges a film by its oldest request only: declined, it lets anyone ask
    again, and then, while that second request is open, a third time."""
    declined = upstream_request(overseerr_sim, "movie", SPRITE_FRIGHT, [], is4k=False)
    overseerr_sim.set_request_status(declined, "DECLINED")
    upstream_request(overseerr_sim, "movie", SPRITE_FRIGHT, [], is4k=False)  # bob, again
    film = await found(alice_client, "sprite fright")
    assert (film["availability"], film["requestedBy"]) == ("requested", "someone")
    answer = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert answer["status"] == 409, answer
    assert answer["error"]["details"] == {"reason": "requested_in_overseerr"}
    assert overseerr_sim.log.entries(*POST) == []
    assert len(overseerr_sim.media_requests) == 4  # the two seeded, bob's two


async def test_a_4k_request_leaves_the_ordinary_version_free_to_request(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    for media_type, tmdb_id, seasons in (("movie", SPRITE_FRIGHT, []), ("tv", RENDER_FARM, [1, 2])):
        made = upstream_request(overseerr_sim, media_type, tmdb_id, seasons, is4k=True)
        overseerr_sim.set_request_status(made, "APPROVED")
    film = await found(alice_client, "sprite fright")
    assert (film["availability"], film["requestedBy"]) == ("requestable", None)
    chooser = await alice_client.get(f"/media/tv/{RENDER_FARM}/seasons", headers=HTML)
    assert 'value="1" data-season>' in chooser.text
    assert 'value="2" data-season>' in chooser.text
    show = await ask(alice_client, "tv", RENDER_FARM, seasons=[1, 2])
    assert show["status"] == 201, show
    assert show["data"]["seasons"] == [1, 2]
    movie = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert movie["status"] == 201, movie
    assert not overseerr_sim.media_requests[movie["data"]["overseerrId"]].is4k


async def test_seasons_partly_in_plex_or_held_by_a_failed_request_are_taken(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    media = overseerr_sim.media_for(CATALOGUE[("tv", RENDER_FARM)])
    with overseerr_sim.lock:  # season 1 airing: some episodes in Plex
        media.status, media.season_status = PARTIALLY_AVAILABLE, {1: PARTIALLY_AVAILABLE}
    failed = upstream_request(overseerr_sim, "tv", RENDER_FARM, [2], is4k=False)
    overseerr_sim.set_request_status(failed, FAILED)  # Sonarr refused it; an admin retries
    chooser = await alice_client.get(f"/media/tv/{RENDER_FARM}/seasons", headers=HTML)
    assert '<label class="muted" data-season-state="available">' in chooser.text
    assert '<label class="muted" data-season-state="requested">' in chooser.text
    assert "Every season is already in Plex or requested." in chooser.text
    cases = (([1], "Season 1 is already in Plex."), ([2], "Season 2 is already requested."))
    for seasons, message in cases:
        answer = await ask(alice_client, "tv", RENDER_FARM, seasons=seasons)
        assert (answer["status"], answer["error"]["message"]) == (409, message), answer
    every = await ask(alice_client, "tv", RENDER_FARM, seasons="all")
    assert (every["status"], every["error"]["details"]["reason"]) == (409, "nothing_to_request")
    assert overseerr_sim.log.entries(*POST) == []
    # Overseerr itself takes neither (its 202), as MediaNest said.
    async with httpx.AsyncClient(base_url=overseerr_sim.url) as overseerr:
        as_admin = await overseerr.post(
            "/api/v1/request",
            headers={"X-Api-Key": overseerr_sim.api_key},
            json={"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": [1, 2]},
        )
    assert (as_admin.status_code, as_admin.json()["message"]) == (
        202,
        "No seasons available to request",
    )


@pytest.mark.parametrize("server", ["overseerr", "seerr"])
async def test_specials_are_never_offered_nor_asked_for(
    server: str, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """Overseerr's "all" takes every TMDB season, season 0 too (Seerr's leaves it out):
    MediaNest asks for the regular seasons by number. Holds before and after."""
    if server == "seerr":
        overseerr_sim.behave_as_seerr()
    chooser = await alice_client.get(f"/media/tv/{KEYFRAMES}/seasons", headers=HTML)
    assert 'value="1" data-season>' in chooser.text
    assert 'value="0"' not in chooser.text
    answer = await ask(alice_client, "tv", KEYFRAMES, seasons="all")
    assert answer["status"] == 201, answer
    assert answer["data"]["seasons"] == [1]
    assert overseerr_sim.media_requests[answer["data"]["overseerrId"]].seasons == [1]


@pytest.mark.parametrize(("specials", "server"), [(1, "overseerr"), (0, "overseerr"), (1, "seerr")])
async def test_a_show_with_no_seasons_yet_is_refused_before_overseerr_is_asked(
    specials: int,
    server: str,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An announced show TMDB lists without regular seasons (or with only "Specials"):
    Overseerr's "all" would request season 0 alone, Seerr's nothing (its 202, which
    reads "already requested")."""
    announced = Title("tv", 500099, "Announced Anthology", 2027, "Soon.", 3.0, (), 5099, specials)
    monkeypatch.setitem(CATALOGUE, ("tv", announced.tmdb_id), announced)
    if server == "seerr":
        overseerr_sim.behave_as_seerr()
    chooser = await alice_client.get(f"/media/tv/{announced.tmdb_id}/seasons", headers=HTML)
    assert "This show has no seasons to request yet." in chooser.text
    answer = await ask(alice_client, "tv", announced.tmdb_id, seasons="all")
    assert answer["status"] == 409, answer
    assert answer["error"]["details"] == {"reason": "no_seasons"}
    assert overseerr_sim.log.entries(*POST) == []
