"""The Overseerr simulator as Seerr: its version, the blocklist and its 403, request status
COMPLETED, and titles leaving Plex (Seerr: DELETED; Overseerr: UNKNOWN, requests gone)."""

from __future__ import annotations

import httpx
import pytest

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY

KEY = {"X-Api-Key": API_KEY}
SPRITE_FRIGHT = 400007
RENDER_FARM = 500003  # two seasons, nothing requested
COMPLETED, BLOCKLISTED, DELETED = 5, 6, 7


def make_request(
    sim: OverseerrSimulator, http: httpx.Client, body: dict, headers: dict | None = None
) -> httpx.Response:
    return http.post(f"{sim.url}/api/v1/request", json=body, headers=KEY | (headers or {}))


def movie_request(sim: OverseerrSimulator, http: httpx.Client) -> dict:
    """Alice (user 2, REQUEST only) asks for the movie: her request waits for approval,
    where the admin's own would be approved at once."""
    made = make_request(
        sim, http, {"mediaType": "movie", "mediaId": SPRITE_FRIGHT}, {"X-API-User": "2"}
    )
    assert made.status_code == 201, made.text
    answer: dict = made.json()
    return answer


def media_info(sim: OverseerrSimulator, http: httpx.Client, kind: str, tmdb_id: int) -> dict:
    info: dict = http.get(f"{sim.url}/api/v1/{kind}/{tmdb_id}", headers=KEY).json()["mediaInfo"]
    return info


def test_the_status_names_overseerr_by_default_and_seerr_once_set_so(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    assert http.get(f"{overseerr.url}/api/v1/status").json()["version"] == "1.34.0"
    assert http.post(f"{overseerr.url}/__sim/seerr", json={}).status_code == 200
    status = http.get(f"{overseerr.url}/api/v1/status").json()
    assert (status["version"], status["commitTag"]) == ("3.1.0", "v3.1.0")
    # Its settings are Seerr's too: CSRF protection lives in the network settings.
    network = http.get(f"{overseerr.url}/api/v1/settings/network", headers=KEY)
    assert (network.status_code, network.json()["csrfProtection"]) == (200, False)
    http.post(f"{overseerr.url}/__sim/seerr", json={"seerr": False})
    assert http.get(f"{overseerr.url}/api/v1/status").json()["version"] == "1.34.0"
    main = http.get(f"{overseerr.url}/api/v1/settings/main", headers=KEY).json()
    assert main["csrfProtection"] is False


def test_the_public_settings_give_each_servers_application_title_without_a_key(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """routes/index.ts `GET /settings/public` (no authentication): `applicationTitle`,
    "Overseerr" by default, "Seerr" in Seerr (overseerrMerge.ts renames the default one);
    a title the admin chose stays through the move."""

    def title() -> object:
        answer = http.get(f"{overseerr.url}/api/v1/settings/public")
        assert answer.status_code == 200, answer.text
        assert answer.json()["initialized"] is True
        return answer.json()["applicationTitle"]

    assert title() == "Overseerr"
    overseerr.behave_as_seerr()
    assert title() == "Seerr"
    overseerr.behave_as_seerr(None)
    assert title() == "Overseerr"
    overseerr.set_application_title("Family Requests")
    overseerr.behave_as_seerr()
    assert title() == "Family Requests"


def test_only_seerr_has_a_blocklist(overseerr: OverseerrSimulator, http: httpx.Client) -> None:
    refused = http.post(f"{overseerr.url}/__sim/media/movie/{SPRITE_FRIGHT}/blocklist")
    assert refused.status_code == 400
    assert "only in Seerr" in refused.json()["message"]


@pytest.mark.parametrize(
    ("version", "message"),
    [("3.1.0", "This media is blocklisted."), ("2.7.3", "This media is blacklisted.")],
)
def test_a_blocklisted_title_is_status_6_and_its_new_request_is_refused_403(
    overseerr: OverseerrSimulator, http: httpx.Client, version: str, message: str
) -> None:
    http.post(f"{overseerr.url}/__sim/seerr", json={"version": version})
    earlier = movie_request(overseerr, http)
    blocked = http.post(f"{overseerr.url}/__sim/media/movie/{SPRITE_FRIGHT}/blocklist")
    assert blocked.status_code == 200
    info = media_info(overseerr, http, "movie", SPRITE_FRIGHT)
    assert (info["status"], info["status4k"]) == (BLOCKLISTED, BLOCKLISTED)
    refused = make_request(overseerr, http, {"mediaType": "movie", "mediaId": SPRITE_FRIGHT})
    assert refused.status_code == 403
    assert refused.json()["message"] == message
    # The earlier request stays, readable by id, left out of the default list.
    assert http.get(f"{overseerr.url}/api/v1/request/{earlier['id']}", headers=KEY).json()["media"][
        "status"
    ] == (BLOCKLISTED)
    listed = http.get(f"{overseerr.url}/api/v1/request?filter=all&take=50", headers=KEY).json()
    assert earlier["id"] not in [r["id"] for r in listed["results"]]


def test_in_seerr_a_request_completes_with_its_media_available_or_deleted(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.behave_as_seerr()
    made = movie_request(overseerr, http)
    overseerr.set_request_status(made["id"], "APPROVED")
    overseerr.set_media_status("movie", SPRITE_FRIGHT, "AVAILABLE", rating_key="777")
    read = http.get(f"{overseerr.url}/api/v1/request/{made['id']}", headers=KEY).json()
    assert (read["status"], read["media"]["status"]) == (COMPLETED, 5)
    gone = http.post(f"{overseerr.url}/__sim/media/movie/{SPRITE_FRIGHT}/remove-from-plex")
    assert gone.status_code == 200
    read = http.get(f"{overseerr.url}/api/v1/request/{made['id']}", headers=KEY).json()
    assert (read["status"], read["media"]["status"]) == (COMPLETED, DELETED)
    assert read["media"]["ratingKey"] is None
    # A completed request is no duplicate: the title can be requested again; approving
    # the new request makes the deleted media processing (MediaRequestSubscriber.ts).
    again = movie_request(overseerr, http)
    assert again["media"]["status"] == DELETED
    overseerr.set_request_status(again["id"], "APPROVED")
    assert media_info(overseerr, http, "movie", SPRITE_FRIGHT)["status"] == 3


def test_a_deleted_approved_request_completes_in_seerr(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """MediaSubscriber.ts completes approved requests on DELETED too, not only AVAILABLE."""
    overseerr.behave_as_seerr()
    made = movie_request(overseerr, http)
    overseerr.set_request_status(made["id"], "APPROVED")
    overseerr.set_media_status("movie", SPRITE_FRIGHT, "DELETED")
    read = http.get(f"{overseerr.url}/api/v1/request/{made['id']}", headers=KEY).json()
    assert (read["status"], read["media"]["status"]) == (COMPLETED, DELETED)


def test_in_overseerr_a_movie_leaving_plex_is_unknown_again_and_its_requests_go(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    made = movie_request(overseerr, http)
    overseerr.complete_request(made["id"])
    assert http.post(
        f"{overseerr.url}/__sim/media/movie/{SPRITE_FRIGHT}/remove-from-plex"
    ).is_success
    assert http.get(f"{overseerr.url}/api/v1/request/{made['id']}", headers=KEY).status_code == 404
    assert media_info(overseerr, http, "movie", SPRITE_FRIGHT)["status"] == 1
    assert movie_request(overseerr, http)["media"]["status"] == 2


def test_a_season_deleted_in_seerr_can_be_requested_again_the_others_not(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.behave_as_seerr()
    made = make_request(
        overseerr, http, {"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": [1, 2]}
    ).json()
    overseerr.set_request_status(made["id"], "APPROVED")
    overseerr.set_media_status("tv", RENDER_FARM, "AVAILABLE")
    gone = http.post(
        f"{overseerr.url}/__sim/media/tv/{RENDER_FARM}/remove-from-plex", json={"seasons": [1]}
    )
    assert gone.status_code == 200
    info = media_info(overseerr, http, "tv", RENDER_FARM)
    assert info["status"] == 4  # PARTIALLY_AVAILABLE
    assert {s["seasonNumber"]: s["status"] for s in info["seasons"]} == {1: DELETED, 2: 5}
    assert info["requests"][0]["status"] == COMPLETED
    body = {"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": [1, 2]}
    again = make_request(overseerr, http, body)
    assert again.status_code == 201
    assert [s["seasonNumber"] for s in again.json()["seasons"]] == [1]
    bad = http.post(
        f"{overseerr.url}/__sim/media/tv/{RENDER_FARM}/remove-from-plex", json={"seasons": [1]}
    )
    assert bad.status_code == 400  # season 1 is no longer in Plex


@pytest.mark.parametrize(("server", "gone"), [("seerr", DELETED), ("overseerr", 1)])
def test_a_whole_show_leaving_plex_is_recorded_as_each_server_does(
    overseerr: OverseerrSimulator, http: httpx.Client, server: str, gone: int
) -> None:
    if server == "seerr":
        overseerr.behave_as_seerr()
    made = make_request(
        overseerr, http, {"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": "all"}
    ).json()
    overseerr.complete_request(made["id"])
    left = http.post(f"{overseerr.url}/__sim/media/tv/{RENDER_FARM}/remove-from-plex", json={})
    assert left.status_code == 200
    info = media_info(overseerr, http, "tv", RENDER_FARM)
    assert info["status"] == gone
    assert {s["seasonNumber"]: s["status"] for s in info["seasons"]} == {1: gone, 2: gone}
    read = http.get(f"{overseerr.url}/api/v1/request/{made['id']}", headers=KEY)
    if server == "seerr":
        assert read.json()["status"] == COMPLETED
    else:
        assert read.status_code == 404  # its season requests went, and the request with them
    again = make_request(
        overseerr, http, {"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": "all"}
    )
    assert again.status_code == 201
    assert [s["seasonNumber"] for s in again.json()["seasons"]] == [1, 2]
