"""The Overseerr simulator's answers checked against Overseerr's own OpenAPI document
(tests/contracts/overseerr/overseerr-api.yml, see the README there) with schemathesis,
for every endpoint MediaNest calls. Bounded: a fixed number of derandomized examples per
operation. Path ids are drawn from the simulator's catalogue and requests, and bodies
are the ones MediaNest sends (catalogue titles, seasons, users; a webhook test aimed at a
local receiver), so the answers checked are real successes rather than 4xx the document
says nothing about. A second test records what MediaNest's client really calls and
holds it equal to the checked list, so a new call cannot skip the check.

Driven through schemathesis's Python API (each operation's strategy under `@given`), not
its pytest plugin (see tests/fuzz/test_openapi_fuzz.py for why)."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from medianest.integrations.http import ResilientClient
from medianest.integrations.overseerr import OverseerrClient
from medianest.media.webhook_setup import DEFAULT_JSON_PAYLOAD
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexTvSimulator
from medianest_simulators.overseerr_data import API_KEY, CATALOGUE
from medianest_simulators.overseerr_plex_import import PlexConnection
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_TOKEN
from tests.support.http import sync_http_client

SPEC = Path(__file__).parents[1] / "contracts" / "overseerr" / "overseerr-api.yml"

# Where real Overseerr is looser than its document: the one list of exceptions.
# `MediaRequest.serverId/profileId/rootFolder` are nullable columns in Overseerr's
# entity (server/entity/MediaRequest.ts: `@Column({ nullable: true })`) that stay null
# until an admin picks a Radarr/Sonarr server, profile or folder, and its API sends the
# entity as it is; the document types them as plain number/string.
LOOSER_THAN_SPEC: list[tuple[str, str]] = [
    ("MediaRequest", "serverId"),
    ("MediaRequest", "profileId"),
    ("MediaRequest", "rootFolder"),
]
# The document requires a User's `email`, but `POST /user/import-from-plex` answers
# `User.filterMany(createdUsers)` (routes/user/index.ts), which leaves out `email` and
# `plexId` (entity/User.ts `filteredFields`) for any caller.
UNREQUIRED_IN_SPEC: list[tuple[str, str]] = [("User", "email")]

# (method, path as in the document): what MediaNest's Overseerr client calls.
CALLED_BY_MEDIANEST = [
    ("GET", "/status"),
    ("GET", "/search"),
    ("GET", "/request"),
    ("GET", "/request/{requestId}"),
    ("GET", "/movie/{movieId}"),
    ("GET", "/tv/{tvId}"),
    ("POST", "/request"),
    ("GET", "/user/{userId}"),
    ("GET", "/user"),
    ("POST", "/user/import-from-plex"),
    ("POST", "/settings/notifications/webhook/test"),
    ("GET", "/settings/main"),
    ("GET", "/settings/public"),
    ("GET", "/auth/me"),
]
EXAMPLES_PER_OPERATION = 25
# An operation without inputs (`/status`) yields a single example.
MIN_SUCCESSES_PER_OPERATION = 1
CONFORMANCE = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [not_a_server_error, response_schema_conformance]


@functools.cache
def _document() -> dict[str, Any]:
    """The document, parsed once per process (libyaml when present: 0.3 s in pure Python)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed: dict[str, Any] = yaml.load(SPEC.read_text(), Loader=loader)
    return parsed


def spec_with(
    exceptions: list[tuple[str, str]], unrequired: list[tuple[str, str]] = UNREQUIRED_IN_SPEC
) -> dict[str, Any]:
    patched = copy.deepcopy(_document())
    for schema_name, field_name in exceptions:
        patched["components"]["schemas"][schema_name]["properties"][field_name]["nullable"] = True
    for schema_name, field_name in unrequired:
        patched["components"]["schemas"][schema_name]["required"].remove(field_name)
    return patched


def more_requests(overseerr: OverseerrSimulator) -> None:
    """Requests of every kind on top of the seed (movie and series, several users)."""
    with sync_http_client(base_url=overseerr.url + "/api/v1", timeout=5) as http:
        for user, body in [
            ("2", {"mediaType": "movie", "mediaId": 10378}),
            ("3", {"mediaType": "tv", "mediaId": 30991, "seasons": [2]}),
            ("1", {"mediaType": "movie", "mediaId": 45745}),
        ]:
            answer = http.post(
                "/request", json=body, headers={"X-Api-Key": API_KEY, "X-API-User": user}
            )
            assert answer.status_code in (201, 409), answer.text


def path_ids(overseerr: OverseerrSimulator) -> dict[str, list[str]]:
    requested = {
        (r.media.title.media_type, r.media.title.tmdb_id) for r in overseerr.media_requests.values()
    }

    def titles(media_type: str) -> list[str]:
        # Titles with requests first: hypothesis draws early entries most, and those
        # answers carry `mediaInfo.requests`, the part most likely to break the document.
        ids = [tmdb for kind, tmdb in CATALOGUE if kind == media_type]
        return [str(t) for t in sorted(ids, key=lambda t: (media_type, t) not in requested)]

    return {
        "requestId": [str(rid) for rid in sorted(overseerr.media_requests)],
        "movieId": titles("movie"),
        "tvId": titles("tv"),
        "userId": [str(uid) for uid in sorted(overseerr.users)],
    }


def request_bodies(overseerr: OverseerrSimulator) -> st.SearchStrategy[dict[str, Any]]:
    """`POST /request` bodies as `OverseerrClient.create_request` builds them: a catalogue
    title, seasons for a series (a list or "all"), on behalf of a known user or not."""
    on_behalf = {"userId": st.sampled_from(sorted(overseerr.users)) | st.none()}
    movies = st.fixed_dictionaries(
        {
            "mediaType": st.just("movie"),
            "mediaId": st.sampled_from([tmdb for kind, tmdb in CATALOGUE if kind == "movie"]),
        },
        optional=on_behalf,
    )
    series = st.fixed_dictionaries(
        {
            "mediaType": st.just("tv"),
            "mediaId": st.sampled_from([tmdb for kind, tmdb in CATALOGUE if kind == "tv"]),
            "seasons": st.just("all")
            | st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True),
        },
        optional=on_behalf,
    )
    return movies | series


def webhook_test_bodies(receiver_url: str) -> st.SearchStrategy[dict[str, Any]]:
    """`POST /settings/notifications/webhook/test` bodies as `send_webhook_test` builds
    them: MediaNest's template (or Overseerr's own) as a JSON string literal, as
    Overseerr's own form sends it."""
    payloads = [DEFAULT_JSON_PAYLOAD, '{"notification_type": "{{notification_type}}"}']
    return st.fixed_dictionaries(
        {
            "enabled": st.booleans(),
            "types": st.integers(0, 4194304),
            "options": st.fixed_dictionaries(
                {
                    "webhookUrl": st.just(receiver_url),
                    "authHeader": st.sampled_from(["", "hook-secret", "Bearer hook-secret"]),
                    "jsonPayload": st.sampled_from([json.dumps(p) for p in payloads]),
                }
            ),
        }
    )


class WebhookReceiver:
    """A loopback HTTP endpoint that takes webhook POSTs (204) and keeps their bodies."""

    def __init__(self) -> None:
        received = self.received = list[bytes]()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


def documented_success(operation: Any, status: int) -> bool:
    """The answer is a 2xx the document describes (so its schema was checked)."""
    return 200 <= status < 300 and str(status) in operation.definition.raw.get("responses", {})


def check_operations(
    overseerr: OverseerrSimulator, raw: dict[str, Any], receiver_url: str
) -> tuple[list[str], int]:
    """Run every operation MediaNest calls; (one line per failing operation, documented
    successes checked)."""
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=overseerr.url + "/api/v1")
    ids = path_ids(overseerr)
    bodies: dict[tuple[str, str], st.SearchStrategy[Any]] = {
        ("POST", "/request"): request_bodies(overseerr),
        ("POST", "/settings/notifications/webhook/test"): webhook_test_bodies(receiver_url),
        # As `import_from_plex` sends it: one plex.tv account id, as a string.
        ("POST", "/user/import-from-plex"): st.fixed_dictionaries(
            {"plexIds": st.lists(st.sampled_from(["2", "4", "5", "6"]), min_size=1, max_size=1)}
        ),
    }
    failures: list[str] = []
    checked_ok = 0
    for method, path in CALLED_BY_MEDIANEST:
        operation = schema[path][method]
        names = [p.name for p in operation.path_parameters]
        picks = st.fixed_dictionaries({n: st.sampled_from(ids[n]) for n in names})
        body = bodies.get((method, path), st.none())
        answered_ok: list[int] = []

        @CONFORMANCE
        @given(case=operation.as_strategy(), chosen=picks, chosen_body=body)
        def run(case: schemathesis.Case, chosen: dict[str, str], chosen_body: Any) -> None:
            case.path_parameters = {**(case.path_parameters or {}), **chosen}
            if chosen_body is not None:
                case.body = chosen_body
            response = case.call(headers={"X-Api-Key": API_KEY}, timeout=10)
            case.validate_response(response, checks=CHECKS)
            if documented_success(operation, response.status_code):
                answered_ok.append(1)

        try:
            run()
        # schemathesis reports failed checks as a BaseExceptionGroup, not an Exception
        except (Exception, BaseExceptionGroup) as exc:  # one line per operation
            failures.append(f"{method} {path}: {_describe(exc)}")
        else:
            if len(answered_ok) < MIN_SUCCESSES_PER_OPERATION:
                failures.append(f"{method} {path}: {len(answered_ok)} documented successes")
        checked_ok += len(answered_ok)
    return failures, checked_ok


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return " | ".join(_describe(e) for e in exc.exceptions)
    return str(exc)


@pytest.fixture
def seeded(overseerr: OverseerrSimulator, plextv: PlexTvSimulator) -> Iterator[OverseerrSimulator]:
    """With more requests, and set up with the plex.tv owner's server, which is shared
    with dave (plex.tv id 6), a friend Overseerr has no user for (its import creates him)."""
    more_requests(overseerr)
    plextv.add_user("dave")
    plextv.share_server("dave", MACHINE_IDENTIFIER, "sim-pms-dave-access-0006")
    overseerr.connect_plex(PlexConnection(plextv.url, OWNER_TOKEN, MACHINE_IDENTIFIER))
    yield overseerr
    overseerr.connect_plex(None)


@pytest.mark.timeout(300)
def test_the_simulator_holds_overseerrs_document_with_the_listed_exceptions_only(
    seeded: OverseerrSimulator, receiver: WebhookReceiver
) -> None:
    failures, checked_ok = check_operations(seeded, spec_with(LOOSER_THAN_SPEC), receiver.url)
    assert not failures, "\n\n".join(failures)
    assert checked_ok >= 3 * len(CALLED_BY_MEDIANEST)
    assert receiver.received, "the webhook tests never reached the receiver"


@pytest.mark.timeout(300)
def test_each_listed_exception_is_needed(
    seeded: OverseerrSimulator, receiver: WebhookReceiver
) -> None:
    """Without the exceptions every answer holding requests (the request list and detail,
    a created request, and a title's `mediaInfo.requests`) breaks the document, and only
    at those fields."""
    failures, _ = check_operations(seeded, spec_with([]), receiver.url)
    report = "\n\n".join(failures)
    failed = sorted(line.split(":")[0] for line in failures)
    assert failed == [
        "GET /movie/{movieId}",
        "GET /request",
        "GET /request/{requestId}",
        "GET /tv/{tvId}",
        "POST /request",
    ], report
    broken = set(re.findall(r"Schema at /components/schemas/(\w+)/properties/(\w+):", report))
    assert broken == set(LOOSER_THAN_SPEC), report


@pytest.mark.timeout(300)
def test_the_import_answer_leaves_out_the_email_as_overseerr_does(
    seeded: OverseerrSimulator, receiver: WebhookReceiver
) -> None:
    """Held to the document as written, only the import's answer breaks it, and only at
    the `email` it requires of a User (which the real route never sends)."""
    failures, _ = check_operations(seeded, spec_with(LOOSER_THAN_SPEC, []), receiver.url)
    assert [line.split(":")[0] for line in failures] == ["POST /user/import-from-plex"], failures
    assert '"email" is a required property' in failures[0]


# --- the checked list is what the client calls ---------------------------------------------

ClientCall = Callable[[OverseerrClient, str], Awaitable[object]]

# One driver per public call of OverseerrClient (the receiver URL for the webhook test).
# A new client method without a driver here fails `test_every_client_call_is_checked`.
CLIENT_CALLS: dict[str, list[ClientCall]] = {
    "status": [lambda c, _: c.status()],
    "health_check": [lambda c, _: c.health_check()],
    "search": [lambda c, _: c.search("sprite fright", page=1)],
    "create_request": [
        lambda c, _: c.create_request(media_type="movie", tmdb_id=400007),
        lambda c, _: c.create_request(
            media_type="tv", tmdb_id=500003, seasons=[1], overseerr_user_id=2
        ),
    ],
    "user_exists": [lambda c, _: c.user_exists(2), lambda c, _: c.user_exists(999)],
    "user_for_plex_account": [lambda c, _: c.user_for_plex_account(2)],
    "import_from_plex": [lambda c, _: c.import_from_plex(2)],
    "send_webhook_test": [
        lambda c, url: c.send_webhook_test(
            webhook_url=url,
            authorization="hook-secret",
            template=DEFAULT_JSON_PAYLOAD,
        )
    ],
    "list_requests": [lambda c, _: c.list_requests(request_filter="pending", requested_by=2)],
    "get_request": [lambda c, _: c.get_request(1)],
    "movie_details": [lambda c, _: c.movie_details(400007)],
    "tv_details": [lambda c, _: c.tv_details(500002)],
    # A media record's requests (133701), and the request list for a title without one.
    "request_gone": [
        lambda c, _: c.request_gone(999, media_type="movie", tmdb_id=133701),
        lambda c, _: c.request_gone(999, media_type="movie", tmdb_id=400006),
    ],
}


def document_path(raw: dict[str, Any], path: str) -> str | None:
    """The document's path template a concrete `/api/v1/...` path falls under (a literal
    path wins over a templated one, as in Overseerr's router)."""
    if not path.startswith("/api/v1/"):
        return None
    local = path.removeprefix("/api/v1")
    matches = [
        template
        for template in raw["paths"]
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), local)
    ]
    return min(matches, key=lambda t: t.count("{"), default=None)


async def test_every_client_call_is_checked(
    overseerr: OverseerrSimulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    """Drive every public call of MediaNest's Overseerr client against the simulator and
    record what it sent: the (method, document path) set equals CALLED_BY_MEDIANEST."""
    public_calls = {
        name
        for name, member in inspect.getmembers(OverseerrClient, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert set(CLIENT_CALLS) == public_calls
    http = ResilientClient(
        "overseerr", overseerr.url, settings=settings, default_headers={"X-Api-Key": API_KEY}
    )
    client = OverseerrClient(http)
    overseerr.log.clear()
    try:
        for drivers in CLIENT_CALLS.values():
            for drive in drivers:
                await drive(client, receiver.url)
    finally:
        await http.aclose()
    raw = _document()
    sent = {(entry.method, entry.path) for entry in overseerr.requests()}
    called = {(method, document_path(raw, path) or path) for method, path in sent}
    assert called == set(CALLED_BY_MEDIANEST), sorted(called)
    assert receiver.received, "send_webhook_test did not make the simulator deliver"
