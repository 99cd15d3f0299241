"""The Overseerr simulator's answers checked against Overseerr's own OpenAPI document
(tests/contracts/overseerr/overseerr-api.yml, see the README there) with schemathesis,
for the endpoints MediaNest calls. Bounded: a fixed number of derandomized examples per
operation. Path ids are drawn from the simulator's catalogue and requests, so the
answers checked are real 200s rather than 404s the document says nothing about.

Driven through schemathesis's Python API (each operation's strategy under `@given`), not
its pytest plugin (see tests/fuzz/test_openapi_fuzz.py for why)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from medianest.simulators import OverseerrSimulator
from medianest.simulators.overseerr_data import API_KEY, CATALOGUE

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

# (method, path as in the document): what MediaNest's Overseerr client calls.
CALLED_BY_MEDIANEST = [
    ("GET", "/status"),
    ("GET", "/search"),
    ("GET", "/request"),
    ("GET", "/request/{requestId}"),
    ("GET", "/movie/{movieId}"),
    ("GET", "/tv/{tvId}"),
]
EXAMPLES_PER_OPERATION = 25
CONFORMANCE = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [not_a_server_error, response_schema_conformance]


def spec_with(exceptions: list[tuple[str, str]]) -> dict[str, Any]:
    raw = yaml.safe_load(SPEC.read_text())
    patched = copy.deepcopy(raw)
    for schema_name, field_name in exceptions:
        patched["components"]["schemas"][schema_name]["properties"][field_name]["nullable"] = True
    return patched


def more_requests(overseerr: OverseerrSimulator) -> None:
    """Requests of every kind on top of the seed (movie and series, several users)."""
    with httpx.Client(base_url=overseerr.url + "/api/v1", timeout=5) as http:
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
    return {
        "requestId": [str(rid) for rid in sorted(overseerr.media_requests)],
        "movieId": [str(tmdb) for kind, tmdb in CATALOGUE if kind == "movie"],
        "tvId": [str(tmdb) for kind, tmdb in CATALOGUE if kind == "tv"],
    }


def check_operations(overseerr: OverseerrSimulator, raw: dict[str, Any]) -> tuple[list[str], int]:
    """Run every operation MediaNest calls; (one line per failing operation, 200s checked)."""
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=overseerr.url + "/api/v1")
    ids = path_ids(overseerr)
    failures: list[str] = []
    checked_ok = 0
    for method, path in CALLED_BY_MEDIANEST:
        operation = schema[path][method]
        names = [p.name for p in operation.path_parameters]
        picks = st.fixed_dictionaries({n: st.sampled_from(ids[n]) for n in names})
        answered_ok: list[int] = []

        @CONFORMANCE
        @given(case=operation.as_strategy(), chosen=picks)
        def run(case: schemathesis.Case, chosen: dict[str, str]) -> None:
            case.path_parameters = {**(case.path_parameters or {}), **chosen}
            response = case.call(headers={"X-Api-Key": API_KEY}, timeout=10)
            case.validate_response(response, checks=CHECKS)
            if response.status_code == 200:
                answered_ok.append(1)

        try:
            run()
        # schemathesis reports failed checks as a BaseExceptionGroup, not an Exception
        except (Exception, BaseExceptionGroup) as exc:  # one line per operation
            failures.append(f"{method} {path}: {_describe(exc)}")
        checked_ok += len(answered_ok)
        if not answered_ok and not failures:
            failures.append(f"{method} {path}: no 200 answer was checked")
    return failures, checked_ok


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return " | ".join(_describe(e) for e in exc.exceptions)
    return str(exc)


@pytest.fixture
def seeded(overseerr: OverseerrSimulator) -> OverseerrSimulator:
    more_requests(overseerr)
    return overseerr


@pytest.mark.timeout(300)
def test_the_simulator_holds_overseerrs_document_with_the_listed_exceptions_only(
    seeded: OverseerrSimulator,
) -> None:
    failures, checked_ok = check_operations(seeded, spec_with(LOOSER_THAN_SPEC))
    assert not failures, "\n\n".join(failures)
    assert checked_ok >= 3 * len(CALLED_BY_MEDIANEST)


@pytest.mark.timeout(300)
def test_each_listed_exception_is_needed(seeded: OverseerrSimulator) -> None:
    """Without the exceptions every answer holding requests (the request list and detail,
    and a title's `mediaInfo.requests`) breaks the document, and only at those fields."""
    failures, _ = check_operations(seeded, spec_with([]))
    report = "\n\n".join(failures)
    failed = sorted(line.split(":")[0] for line in failures)
    assert failed == [
        "GET /movie/{movieId}",
        "GET /request",
        "GET /request/{requestId}",
        "GET /tv/{tvId}",
    ], report
    broken = set(re.findall(r"Schema at /components/schemas/(\w+)/properties/(\w+):", report))
    assert broken == set(LOOSER_THAN_SPEC), report
