"""Overseerr simulator: auth, the encoding trap, search, requests, details and webhooks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from medianest_simulators import OverseerrSimulator, SimulatorServer
from medianest_simulators.overseerr_data import API_KEY
from medianest_simulators.overseerr_webhook import DEFAULT_TEMPLATE

KEY = {"X-Api-Key": API_KEY}
ENCODING_ERROR = (
    "Parameter 'query' must be url encoded. Its value may not contain reserved characters."
)


def search(sim: OverseerrSimulator, http: httpx.Client, raw_query: str) -> httpx.Response:
    return http.get(f"{sim.url}/api/v1/search?{raw_query}", headers=KEY)


def request_media(
    sim: OverseerrSimulator, http: httpx.Client, body: dict, headers: dict | None = None
) -> httpx.Response:
    return http.post(sim.url + "/api/v1/request", json=body, headers=KEY | (headers or {}))


class Receiver:
    """A loopback webhook endpoint that remembers what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, str | None]] = []

        async def hook(request: Request) -> Response:
            self.received.append((await request.json(), request.headers.get("authorization")))
            return Response(status_code=200)

        self.server = SimulatorServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))

    def wait(self, count: int) -> list[tuple[dict, str | None]]:
        deadline = time.monotonic() + 5
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    with hook.server:
        yield hook


def test_status_is_public_and_everything_else_needs_the_key(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    status = http.get(overseerr.url + "/api/v1/status").json()
    assert {"version", "commitTag", "updateAvailable", "commitsBehind", "restartRequired"} <= set(
        status
    )
    assert http.get(overseerr.url + "/api/v1/search?query=bunny").status_code == 401
    wrong = http.get(overseerr.url + "/api/v1/request", headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401 and "message" in wrong.json()


@pytest.mark.parametrize(
    "raw", ["query=big+buck", "query=a:b", "query=tom&jerry=1&query=x,y", "query=it's"]
)
def test_a_query_with_reserved_characters_is_refused(
    overseerr: OverseerrSimulator, http: httpx.Client, raw: str
) -> None:
    answer = search(overseerr, http, raw)
    assert answer.status_code == 400
    assert answer.json()["message"] == ENCODING_ERROR


def test_httpx_default_params_encoding_falls_into_the_trap(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    answer = http.get(overseerr.url + "/api/v1/search", params={"query": "big buck"}, headers=KEY)
    assert answer.status_code == 400


def test_a_percent_encoded_query_is_searched(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    body = search(overseerr, http, "query=big%20buck&page=1&language=en").json()
    assert body["totalResults"] == 1
    movie = body["results"][0]
    assert movie["mediaType"] == "movie" and movie["title"] == "Big Buck Bunny"
    assert movie["mediaInfo"]["status"] == 5
    assert {
        "id",
        "originalTitle",
        "releaseDate",
        "posterPath",
        "overview",
        "voteAverage",
        "genreIds",
        "adult",
    } <= set(movie)


def test_search_mixes_movies_shows_people_and_media_states(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    results = search(overseerr, http, "query=e").json()["results"]
    kinds = {r["mediaType"] for r in results}
    assert kinds == {"movie", "tv", "person"}
    states = [r.get("mediaInfo", {}).get("status") for r in results if r["mediaType"] != "person"]
    assert 5 in states and 2 in states and None in states
    tv = next(r for r in results if r["mediaType"] == "tv")
    assert {"name", "originalName", "firstAirDate", "originCountry"} <= set(tv)
    person = next(r for r in results if r["mediaType"] == "person")
    assert "knownFor" in person


def test_search_pages_by_twenty(overseerr: OverseerrSimulator, http: httpx.Client) -> None:
    first = search(overseerr, http, "query=test%20pattern&page=1").json()
    second = search(overseerr, http, "query=test%20pattern&page=2").json()
    assert (first["totalResults"], first["totalPages"]) == (26, 2)
    assert len(first["results"]) == 20 and len(second["results"]) == 6
    assert second["page"] == 2


def test_a_request_is_created_once(overseerr: OverseerrSimulator, http: httpx.Client) -> None:
    """Made by alice (user 2, REQUEST only), so it waits: PENDING, its media PENDING."""
    alice = {"X-API-User": "2"}
    created = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400001}, alice)
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == 1 and body["type"] == "movie"
    assert body["media"]["tmdbId"] == 400001 and body["media"]["status"] == 2
    assert {"id", "email", "username", "displayName"} <= set(body["requestedBy"])
    again = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400001})
    assert again.status_code == 409
    # MediaRequest.ts reads only the title's requests, not its status: a film in Plex that
    # nobody requested (Big Buck Bunny, found by the Plex scan) is requested again.
    available = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 10378})
    assert available.status_code == 201


def test_tv_requests_take_the_seasons_left(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    first = request_media(overseerr, http, {"mediaType": "tv", "mediaId": 30991, "seasons": "all"})
    assert first.status_code == 201
    assert [s["seasonNumber"] for s in first.json()["seasons"]] == [2]
    none_left = request_media(
        overseerr, http, {"mediaType": "tv", "mediaId": 30991, "seasons": [1, 2]}
    )
    assert none_left.status_code == 202


def test_a_user_without_permission_gets_403(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    http.post(overseerr.url + "/__sim/users/2/forbid", json={"forbidden": True})
    answer = request_media(
        overseerr, http, {"mediaType": "movie", "mediaId": 400002}, headers={"X-API-User": "2"}
    )
    assert answer.status_code == 403


def test_requesting_for_a_user_overseerr_does_not_have_is_its_500(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """entity/MediaRequest.ts: the admin's `userId` goes to findOneOrFail, whose
    EntityNotFoundError routes/request.ts answers with 500 and its message."""
    answer = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400007, "userId": 99})
    assert answer.status_code == 500
    assert answer.json()["message"].startswith('Could not find any entity of type "User"')
    assert '"id": 99' in answer.json()["message"]
    alice = {"X-API-User": "2"}
    body = {"mediaType": "movie", "mediaId": 400007, "userId": 3}
    refused = request_media(overseerr, http, body, alice)
    assert refused.status_code == 403
    assert refused.json()["message"] == "You do not have permission to modify the request user."
    assert not any(r.media.title.tmdb_id == 400007 for r in overseerr.media_requests.values())


def test_requests_are_listed_with_filters_and_page_info(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    request_media(
        overseerr, http, {"mediaType": "movie", "mediaId": 400003}, headers={"X-API-User": "2"}
    )
    listing = http.get(
        overseerr.url + "/api/v1/request",
        params={"take": 1, "skip": 0, "filter": "pending", "sort": "added", "requestedBy": 2},
        headers=KEY,
    ).json()
    assert listing["pageInfo"] == {"pages": 2, "pageSize": 1, "results": 2, "page": 1}
    assert listing["results"][0]["media"]["tmdbId"] == 400003
    processing = http.get(
        overseerr.url + "/api/v1/request", params={"filter": "processing"}, headers=KEY
    ).json()
    assert [r["type"] for r in processing["results"]] == ["tv"]


def test_an_unknown_request_is_404_with_a_message(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    answer = http.get(overseerr.url + "/api/v1/request/999", headers=KEY)
    assert answer.status_code == 404
    assert answer.json()["message"] == "Request not found."
    assert http.get(overseerr.url + "/api/v1/request/1", headers=KEY).json()["id"] == 1


def test_details_include_media_info_and_seasons(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    movie = http.get(overseerr.url + "/api/v1/movie/10378", headers=KEY).json()
    assert movie["mediaInfo"]["status"] == 5
    show = http.get(overseerr.url + "/api/v1/tv/30991", headers=KEY).json()
    assert [(s["seasonNumber"], s["episodeCount"]) for s in show["seasons"]] == [(1, 4), (2, 6)]
    assert show["mediaInfo"]["status"] == 4


def test_a_title_tmdb_does_not_know_is_overseerrs_500_with_its_message(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """routes/movie.ts and tv.ts answer any failure of the TMDB lookup with 500 and
    `{message}` only; a new request fails in MediaRequest.request, answered 500 too."""
    movie = http.get(overseerr.url + "/api/v1/movie/123456789", headers=KEY)
    assert (movie.status_code, movie.json()) == (500, {"message": "Unable to retrieve movie."})
    show = http.get(overseerr.url + "/api/v1/tv/123456789", headers=KEY)
    assert (show.status_code, show.json()) == (500, {"message": "Unable to retrieve series."})
    made = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 123456789})
    assert made.status_code == 500
    assert made.json()["message"] == (
        "[TMDB] Failed to fetch movie details: Request failed with status code 404"
    )


def test_with_tmdb_out_of_reach_every_title_answers_as_an_unknown_one(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.cut_tmdb()
    movie = http.get(overseerr.url + "/api/v1/movie/10378", headers=KEY)
    assert (movie.status_code, movie.json()) == (500, {"message": "Unable to retrieve movie."})
    made = request_media(overseerr, http, {"mediaType": "tv", "mediaId": 500003})
    assert made.status_code == 500
    assert made.json()["message"].startswith("[TMDB] Failed to fetch TV show details")
    # searchMulti swallows TMDB's failure: an empty first page, whatever page was asked.
    found = search(overseerr, http, "query=big%20buck&page=2")
    assert (found.status_code, found.json()) == (
        200,
        {"page": 1, "totalPages": 1, "totalResults": 0, "results": []},
    )
    overseerr.cut_tmdb(False)
    assert http.get(overseerr.url + "/api/v1/movie/10378", headers=KEY).status_code == 200


def test_status_changes_are_posted_to_the_webhook_as_strings(
    overseerr: OverseerrSimulator, http: httpx.Client, receiver: Receiver
) -> None:
    overseerr.set_webhook(receiver.server.url + "/hook", "Bearer shared-secret")
    alice = {"X-API-User": "2"}  # REQUEST only: her request waits for the admin
    created = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400004}, alice)
    request_id = created.json()["id"]
    http.post(
        f"{overseerr.url}/__sim/media-requests/{request_id}/status", json={"status": "APPROVED"}
    )
    overseerr.set_media_status("movie", 400004, 5)
    received = receiver.wait(3)
    assert [p["notification_type"] for p, _ in received] == [
        "MEDIA_PENDING",
        "MEDIA_APPROVED",
        "MEDIA_AVAILABLE",
    ]
    payload, authorization = received[-1]
    assert authorization == "Bearer shared-secret"
    assert payload["request"]["request_id"] == str(request_id)
    assert payload["media"] == {
        "media_type": "movie",
        "tmdbId": "400004",
        "tvdbId": "",
        "status": "AVAILABLE",
        "status4k": "UNKNOWN",
    }
    assert all(isinstance(v, str) for v in payload["request"].values())
    assert {"event", "subject", "message", "image", "issue", "comment", "extra"} <= set(payload)
    assert overseerr.wait_for_deliveries(3)[-1]["status"] == 200
    assert (
        http.get(f"{overseerr.url}/api/v1/request/{request_id}", headers=KEY).json()["media"][
            "status"
        ]
        == 5
    )


def test_a_test_notification_has_no_media(
    overseerr: OverseerrSimulator, http: httpx.Client, receiver: Receiver
) -> None:
    http.post(overseerr.url + "/__sim/webhook", json={"url": receiver.server.url + "/hook"})
    http.post(overseerr.url + "/__sim/webhook/test")
    payload, authorization = receiver.wait(1)[0]
    assert payload["notification_type"] == "TEST_NOTIFICATION"
    assert payload["media"] is None and payload["request"] is None
    assert authorization is None


def test_webhook_bodies_follow_overseerrs_default_template(
    overseerr: OverseerrSimulator, http: httpx.Client, receiver: Receiver
) -> None:
    """As webhook.ts renders settings.ts's default template: strings everywhere (''
    when absent), objects null when the notification has none, `extra` a list."""
    overseerr.set_webhook(receiver.server.url + "/hook")
    created = request_media(
        overseerr,
        http,
        {"mediaType": "tv", "mediaId": 500003, "seasons": [1, 2]},
        {"X-API-User": "2"},
    )
    overseerr.complete_request(created.json()["id"])
    receiver.wait(3)
    overseerr.send_test_notification()
    pending, approved, available, test = (p for p, _ in receiver.wait(4))

    assert pending == {
        "notification_type": "MEDIA_PENDING",
        "event": "New Series Request",
        "subject": "Render Farm (2022)",
        "message": "Life among the GPUs.",
        "image": "https://image.tmdb.org/t/p/w600_and_h900_bestv2/sim500003.jpg",
        "media": {
            "media_type": "tv",
            "tmdbId": "500003",
            "tvdbId": "5004",
            "status": "PENDING",
            "status4k": "UNKNOWN",
        },
        "request": {
            "request_id": str(created.json()["id"]),
            "requestedBy_email": "alice@medianest.test",
            "requestedBy_username": "alice",
            "requestedBy_avatar": "/os_icon.svg",
            "requestedBy_settings_discordId": "",
            "requestedBy_settings_telegramChatId": "",
        },
        "issue": None,
        "comment": None,
        "extra": [{"name": "Requested Seasons", "value": "1, 2"}],
    }
    assert approved["event"] == "Series Request Approved"
    assert available["event"] == "Series Request Now Available"
    assert available["media"]["status"] == "AVAILABLE"
    assert test == {
        "notification_type": "TEST_NOTIFICATION",
        "event": "",
        "subject": "Test Notification",
        "message": "Check check, 1, 2, 3. Are we coming in clear?",
        "image": "",
        "media": None,
        "request": None,
        "issue": None,
        "comment": None,
        "extra": [],
    }


def test_requests_can_progress_on_their_own(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.set_auto_progress(0.05, 0.05)
    request_id = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400005}).json()[
        "id"
    ]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = http.get(f"{overseerr.url}/api/v1/request/{request_id}", headers=KEY).json()
        if body["media"]["status"] == 5:
            break
        time.sleep(0.02)
    assert body["status"] == 2 and body["media"]["status"] == 5


def test_requests_are_listed_newest_id_first(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """routes/request.ts orders by `request.id` unless `sort=modified`."""
    for tmdb_id in (400003, 400004):
        request_media(overseerr, http, {"mediaType": "movie", "mediaId": tmdb_id})
    overseerr.set_request_status(1, "APPROVED")  # the oldest, now the latest modified
    added = http.get(overseerr.url + "/api/v1/request", headers=KEY).json()["results"]
    modified = http.get(
        overseerr.url + "/api/v1/request", params={"sort": "modified"}, headers=KEY
    ).json()["results"]
    assert [r["id"] for r in added] == [4, 3, 2, 1]
    assert modified[0]["id"] == 1


def test_a_failing_database_is_answered_as_overseerr_answers_it(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """Overseerr's routes turn a failed query into a 404 "not found" (a request's read,
    its delete), into details without `mediaInfo` (the error swallowed) or into a 500."""
    overseerr.fail_database()
    read = http.get(overseerr.url + "/api/v1/request/1", headers=KEY)
    assert (read.status_code, read.json()["message"]) == (404, "Request not found.")
    details = http.get(overseerr.url + "/api/v1/movie/133701", headers=KEY)
    assert details.status_code == 200
    assert "mediaInfo" not in details.json()
    listing = http.get(overseerr.url + "/api/v1/request", headers=KEY)
    assert (listing.status_code, listing.json()["message"]) == (
        500,
        "SQLITE_BUSY: database is locked",
    )
    assert http.delete(overseerr.url + "/api/v1/request/1", headers=KEY).status_code == 404
    assert 1 in overseerr.media_requests
    http.post(overseerr.url + "/__sim/database", json={"failing": 1})
    assert http.get(overseerr.url + "/api/v1/request/1", headers=KEY).status_code == 404
    assert http.get(overseerr.url + "/api/v1/request/1", headers=KEY).status_code == 200


def test_deleting_a_media_record_deletes_its_requests(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    media_id = http.get(overseerr.url + "/api/v1/movie/133701", headers=KEY).json()["mediaInfo"][
        "id"
    ]
    assert http.delete(f"{overseerr.url}/api/v1/media/{media_id}", headers=KEY).status_code == 204
    assert "mediaInfo" not in http.get(overseerr.url + "/api/v1/movie/133701", headers=KEY).json()
    assert http.get(overseerr.url + "/api/v1/request/1", headers=KEY).status_code == 404
    again = http.delete(f"{overseerr.url}/api/v1/media/{media_id}", headers=KEY)
    assert (again.status_code, again.json()["message"]) == (404, "Media not found")


def test_the_webhook_test_takes_the_template_as_overseerrs_form_sends_it(
    overseerr: OverseerrSimulator, http: httpx.Client, receiver: Receiver
) -> None:
    """routes/settings/notifications.ts `JSON.parse`s `options.jsonPayload` and stores it
    base64; agents/webhook.ts decodes it and parses twice. The form sends
    `JSON.stringify(template)`, whose base64 is settings.ts's default; base64 sent by
    the client (as MediaNest did until 2026-12-07) is not JSON: the route's 500."""
    url = overseerr.url + "/api/v1/settings/notifications/webhook/test"

    def send(json_payload: object) -> httpx.Response:
        options = {"webhookUrl": receiver.server.url + "/hook", "jsonPayload": json_payload}
        return http.post(url, json={"enabled": True, "types": 0, "options": options}, headers=KEY)

    literal = json.dumps(DEFAULT_TEMPLATE)
    # The first bytes of settings.ts's default `jsonPayload` (v1.34), as Overseerr stores it.
    assert base64.b64encode(literal.encode()).decode().startswith("IntcbiAgXCJub3RpZmljYXRp")
    sent = send(literal)
    assert sent.status_code == 204, sent.text
    payload, _ = receiver.wait(1)[0]
    assert payload["notification_type"] == "TEST_NOTIFICATION"
    assert payload["subject"] == "Test Notification" and payload["media"] is None

    as_base64 = send(base64.b64encode(DEFAULT_TEMPLATE.encode()).decode())
    assert as_base64.status_code == 500
    assert as_base64.json()["message"].endswith("is not valid JSON")
    as_object_text = send(DEFAULT_TEMPLATE)  # parsed once to an object, not a string
    assert as_object_text.status_code == 500
    assert as_object_text.json()["message"] == "Failed to send webhook notification."
    assert len(receiver.received) == 1
