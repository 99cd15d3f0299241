"""Correlation ids in and out, and no secret in any log line."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from medianest.core.logging import (
    _MAYBE_SECRET,
    REDACTED,
    _may_hold_secret,
    _stamp_utc,
    configure_logging,
    get_logger,
    redact_processor,
    redact_text,
    redact_value,
    request_log,
)


async def test_correlation_id_is_generated_when_absent(client):
    response = await client.get("/api/health")
    assert len(response.headers["X-Correlation-ID"]) >= 16


async def test_correlation_id_from_the_request_is_echoed(client):
    response = await client.get("/api/health", headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["X-Correlation-ID"] == "abc-123"


async def test_a_hostile_correlation_id_is_replaced(client):
    response = await client.get("/api/health", headers={"X-Correlation-ID": "a b\x7f" * 50})
    assert response.headers["X-Correlation-ID"] != "a b\x7f" * 50


@pytest.fixture
def json_log_capture(tmp_path):
    log_file = tmp_path / "app.log"
    configure_logging(level="INFO", fmt="json", log_file=log_file)
    yield log_file
    configure_logging(level="INFO", fmt="json")


async def test_request_log_line_carries_the_correlation_id(client, json_log_capture):
    await client.get("/api/health", headers={"X-Correlation-ID": "trace-me-42"})
    request_log.flush()  # request lines are written once per event-loop iteration
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in json_log_capture.read_text().splitlines()]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines and request_lines[-1]["correlation_id"] == "trace-me-42"


async def test_a_request_carrying_tokens_logs_no_token(client, json_log_capture):
    secret = "plexsecrettoken123456"
    await client.get(
        f"/api/auth/session?X-Plex-Token={secret}&apiKey={secret}",
        headers={"Authorization": f"Bearer {secret}", "Cookie": f"medianest_session={secret}"},
    )
    logging.getLogger("medianest.test").info(
        "outbound call to http://plex:32400/library?X-Plex-Token=%s", secret
    )
    request_log.flush()  # request lines are written once per event-loop iteration
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = json_log_capture.read_text()
    assert text.strip(), "expected log lines"
    assert secret not in text


@pytest.mark.parametrize(
    "raw",
    [
        "GET /x?X-Plex-Token=abcdef123",
        "Authorization: Bearer abcdef123",
        "api_key=abcdef123&x=1",
        "redis://user:abcdef123@localhost",
        "password: abcdef123",
        "kuma key uk1_abcdef123",
    ],
)
def test_secrets_in_free_text_are_redacted(raw):
    assert "abcdef123" not in redact_text(raw)


def test_secret_keys_are_redacted_whatever_their_value():
    event = redact_value(
        None,
        {"headers": {"Authorization": "x", "Cookie": "y", "X-Api-Key": "z"}, "password": "p"},
    )
    assert event == {
        "headers": {"Authorization": REDACTED, "Cookie": REDACTED, "X-Api-Key": REDACTED},
        "password": REDACTED,
    }


# --- the request line: built without structlog's call path, written once per loop turn


class _Lines(logging.Handler):
    """Each record's text as the root handlers would write it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.writes.append(self.format(record))


@pytest.fixture
def written() -> Iterator[_Lines]:
    configure_logging(level="INFO", fmt="json")
    handler = _Lines()
    ours = next(h for h in logging.getLogger().handlers if getattr(h, "_medianest", False))
    handler.setFormatter(ours.formatter)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def test_the_request_line_is_the_line_structlog_writes(written):
    bound = structlog.contextvars.bind_contextvars(correlation_id="c-1")
    try:
        fields = {"method": "GET", "path": "/api/x", "status": 200, "duration_ms": 1.5}
        get_logger("medianest.request").info("request", **fields)
        request_log.request(**fields)  # no event loop running: written at once
    finally:
        structlog.contextvars.reset_contextvars(**bound)
    general, fast = (json.loads(text) for text in written.writes)
    assert general.pop("timestamp") <= fast.pop("timestamp")
    assert fast == general
    assert list(fast) == list(general)  # same key order too


def test_the_request_line_is_redacted(written):
    request_log.request(
        method="GET", path="/api/x/token=s3cr3tvalue/more", status=404, duration_ms=0.1
    )
    assert "s3cr3tvalue" not in written.writes[0]
    assert json.loads(written.writes[0])["path"] == f"/api/x/token={REDACTED}"


async def test_request_lines_of_one_loop_iteration_are_written_together(written):
    for status in (200, 201, 404):
        request_log.request(method="GET", path="/p", status=status, duration_ms=0.1)
    assert written.writes == []  # pending until the loop turns
    await asyncio.sleep(0)
    assert len(written.writes) == 1
    lines = [json.loads(line) for line in written.writes[0].split("\n")]
    assert [line["status"] for line in lines] == [200, 201, 404]
    request_log.request(method="GET", path="/q", status=200, duration_ms=0.1)
    request_log.flush()  # what shutdown does
    assert json.loads(written.writes[1])["path"] == "/q"


def test_timestamps_are_iso_utc_with_microseconds(monkeypatch):
    monkeypatch.setattr(time, "time_ns", lambda: 1_700_000_000_123_456_789)
    assert _stamp_utc(None, "info", {})["timestamp"] == "2023-11-14T22:13:20.123456Z"
    monkeypatch.setattr(time, "time_ns", lambda: 1_700_000_001_000_000_000)
    assert _stamp_utc(None, "info", {})["timestamp"] == "2023-11-14T22:13:21.000000Z"
    monkeypatch.undo()
    stamped = datetime.fromisoformat(_stamp_utc(None, "info", {})["timestamp"])
    assert abs((datetime.now(UTC) - stamped).total_seconds()) < 1


@given(st.text())
def test_the_quick_secret_check_agrees_with_a_case_insensitive_search(text):
    assert _may_hold_secret(text) == (_MAYBE_SECRET.search(text) is not None)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_quick_secret_check_agrees_on_ascii(text):
    assert _may_hold_secret(text) == (_MAYBE_SECRET.search(text) is not None)


async def test_lines_left_by_a_loop_that_is_gone_are_written_by_the_next(written, monkeypatch):
    # As if a flush had been scheduled in an event loop that ended before running it.
    monkeypatch.setattr(request_log, "_pending", [json.dumps({"event": "request", "n": 1})])
    monkeypatch.setattr(request_log, "_flush_loop", object())
    request_log.request(method="GET", path="/n2", status=200, duration_ms=0.1)
    await asyncio.sleep(0)
    assert [json.loads(line).get("n", 2) for line in written.writes[0].split("\n")] == [1, 2]


def test_each_event_loop_flushes_its_own_lines(written):
    """The loop last seen is remembered (to skip a system call per line), and not
    trusted once it has stopped."""

    async def log_one(path: str) -> None:
        request_log.request(method="GET", path=path, status=200, duration_ms=0.1)
        await asyncio.sleep(0)

    asyncio.run(log_one("/first-loop"))
    asyncio.run(log_one("/second-loop"))
    assert [json.loads(text)["path"] for text in written.writes] == ["/first-loop", "/second-loop"]


def test_a_loop_running_in_another_thread_is_not_this_threads_loop(written):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:

        async def log_there() -> None:
            request_log.request(method="GET", path="/there", status=200, duration_ms=0.1)

        asyncio.run_coroutine_threadsafe(log_there(), loop).result(timeout=5)
        # No loop runs in this thread: the line is written at once, not left to theirs.
        request_log.request(method="GET", path="/here", status=200, duration_ms=0.1)
        paths = [json.loads(line)["path"] for text in written.writes for line in text.split("\n")]
        assert "/here" in paths
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


_KEYS = st.sampled_from(["path", "event", "password", "api_key", "Cookie", "note", "count"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        _KEYS | st.text(max_size=8),
        _VALUES
        | st.sampled_from(["token=abc123", "Bearer abc.def", "https://u:pw@host/", "/api/x"]),
        max_size=6,
    )
)
def test_the_log_processor_redacts_each_value_as_redact_value_does(event):
    expected = {key: redact_value(key, value) for key, value in event.items()}
    assert redact_processor(None, "info", dict(event)) == expected
