"""The shared simulator machinery: start/stop on real sockets, fault modes, request log."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from medianest_simulators import PlexTvSimulator, UptimeKumaSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.support.http import http_client

USER = "/api/v2/user"
HEADERS = {"X-Plex-Token": OWNER_TOKEN, "Accept": "application/json"}


def test_a_simulator_starts_and_stops_well_under_a_second() -> None:
    sim = UptimeKumaSimulator()
    started = time.monotonic()
    sim.start()
    start_time = time.monotonic() - started
    with socket.create_connection(("127.0.0.1", sim.server.port), timeout=1):
        pass  # start() returned, so the port already accepts connections
    assert sim.url.startswith("http://127.0.0.1:")
    stopped = time.monotonic()
    sim.stop()
    assert start_time < 0.5
    assert time.monotonic() - stopped < 0.5
    assert not sim.running


async def test_a_simulator_works_as_an_async_context_manager() -> None:
    async with PlexTvSimulator() as sim, http_client() as client:
        answer = await client.get(sim.url + USER, headers=HEADERS)
    assert answer.status_code == 200
    assert not sim.running


def test_a_stopped_simulator_can_start_again(plextv: PlexTvSimulator) -> None:
    sim = PlexTvSimulator()
    with sim:
        first = sim.url
    with sim:
        assert httpx.get(sim.url + USER, headers=HEADERS).status_code == 200
    assert first.startswith("http://127.0.0.1:")


def test_error_fault_answers_500(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    plextv.set_fault("error")
    assert http.get(plextv.url + USER, headers=HEADERS).status_code == 500


def test_malformed_fault_answers_broken_json(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    plextv.set_fault("malformed")
    answer = http.get(plextv.url + USER, headers=HEADERS)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_unauthorized_fault_answers_401(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    plextv.set_fault("unauthorized")
    assert http.get(plextv.url + USER, headers=HEADERS).status_code == 401


def test_slow_fault_delays_then_answers_normally(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.set_fault("slow", delay=0.3)
    started = time.monotonic()
    answer = http.get(plextv.url + USER, headers=HEADERS)
    assert time.monotonic() - started >= 0.3
    assert answer.json()["username"] == "plexowner"


def test_hang_fault_is_bounded_by_the_client_timeout(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.set_fault("hang")
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.get(plextv.url + USER, headers=HEADERS, timeout=0.3)
    assert time.monotonic() - started < 2


def test_stopping_releases_a_hanging_request_quickly() -> None:
    sim = PlexTvSimulator().start()
    sim.set_fault("hang")
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(sim.url + USER, headers=HEADERS, timeout=10).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    arrived_by = time.monotonic() + 10  # a loaded machine takes a while to send it
    while sim.log.count(USER) == 0 and time.monotonic() < arrived_by:
        time.sleep(0.01)
    assert sim.log.count(USER) == 1  # hanging at the simulator now
    started = time.monotonic()
    sim.stop()
    caller.join(5)
    assert time.monotonic() - started < 1.5
    assert outcome and outcome[0] != 200


def test_a_fault_can_be_scoped_to_a_path_prefix(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.set_fault("error", path_prefix="/api/v2/resources")
    assert http.get(plextv.url + USER, headers=HEADERS).status_code == 200
    assert http.get(plextv.url + "/api/v2/resources", headers=HEADERS).status_code == 500


def test_a_counted_fault_fails_n_times_then_recovers(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.set_fault("error", times=2)
    codes = [http.get(plextv.url + USER, headers=HEADERS).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert plextv.request_count(USER) == 3
    assert [r.status for r in plextv.requests(USER)] == [500, 500, 200]


def test_faults_and_the_log_are_driven_over_http(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    answer = http.post(plextv.url + "/__sim/fault", json={"mode": "error", "pathPrefix": "/api"})
    assert answer.json()["mode"] == "error"
    assert http.get(plextv.url + USER, headers=HEADERS).status_code == 500
    assert http.post(plextv.url + "/__sim/fault", json={"mode": "bogus"}).status_code == 400
    http.post(plextv.url + "/__sim/reset")
    assert http.get(plextv.url + USER, headers=HEADERS).status_code == 200
    log = http.get(plextv.url + "/__sim/requests", params={"path": USER}).json()
    assert log["count"] == 1
    entry = log["requests"][0]
    assert entry["method"] == "GET"
    assert entry["headers"]["x-plex-token"] == OWNER_TOKEN
    assert entry["status"] == 200


def test_control_calls_are_neither_faulted_nor_logged(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.set_fault("error")
    assert http.get(plextv.url + "/__sim/requests").status_code == 200
    assert plextv.request_count() == 0
