"""Correlation ids in and out, and no secret in any log line."""

from __future__ import annotations

import json
import logging

import pytest

from medianest.core.logging import REDACTED, configure_logging, redact_text, redact_value


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
