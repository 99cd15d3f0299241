"""The envelope and error codes, produced by one handler for every error class."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from medianest.core import errors
from medianest.core.envelope import (
    ERROR_SCHEMA_REF,
    Envelope,
    ErrorEnvelope,
    Meta,
    _JsonUtcClock,
    envelope_json,
    envelope_time,
    error_schemas,
)
from medianest.plex.schemas import CachedPagedEnvelope, CachePageMeta
from tests.factories.users import make_client

ERROR_CASES = [
    (errors.ValidationFailed, 400, "VALIDATION_ERROR"),
    (errors.Unauthenticated, 401, "UNAUTHENTICATED"),
    (errors.PermissionDenied, 403, "PERMISSION_DENIED"),
    (errors.PasswordChangeRequired, 403, "PASSWORD_CHANGE_REQUIRED"),
    (errors.CsrfFailed, 403, "CSRF_FAILED"),
    (errors.NotFound, 404, "NOT_FOUND"),
    (errors.Conflict, 409, "CONFLICT"),
    (errors.UpstreamError, 502, "UPSTREAM_ERROR"),
    (errors.ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    (errors.InternalError, 500, "INTERNAL_ERROR"),
]


class Body(BaseModel):
    count: int


@pytest.fixture
async def raising_client(app):
    router = APIRouter(prefix="/api/test-errors")

    @router.get("/raise/{index}")
    async def raise_error(index: int) -> None:
        error_class, _, _ = ERROR_CASES[index]
        raise error_class("explained", details={"hint": "x"})

    @router.get("/limited")
    async def limited() -> None:
        raise errors.RateLimitExceeded(limit=5, window_seconds=3600, retry_after=42)

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @router.post("/body")
    async def with_body(body: Body) -> dict[str, int]:
        return {"count": body.count}

    app.fastapi.include_router(router)
    async with make_client(app) as client:
        yield client


@pytest.mark.parametrize("index", range(len(ERROR_CASES)))
async def test_each_error_class_becomes_its_envelope_and_status(raising_client, index):
    _, status, code = ERROR_CASES[index]
    response = await raising_client.get(f"/api/test-errors/raise/{index}")
    assert response.status_code == status
    assert response.json() == {
        "success": False,
        "error": {"code": code, "message": "explained", "details": {"hint": "x"}},
    }


async def test_rate_limit_error_carries_retry_after_details_and_header(raising_client):
    response = await raising_client.get("/api/test-errors/limited")
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["error"]["details"] == {"limit": 5, "window": 3600, "retryAfter": 42}
    assert response.headers["Retry-After"] == "42"


async def test_unexpected_exception_is_a_generic_500_without_internals(raising_client):
    response = await raising_client.get("/api/test-errors/crash")
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["error"]["details"]["correlationId"] == response.headers["X-Correlation-ID"]


async def test_validation_errors_name_the_field_and_never_echo_input(raising_client):
    response = await raising_client.post("/api/test-errors/body", json={"count": "hunter2"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["fields"][0]["field"] == "count"
    assert "hunter2" not in response.text


async def test_malformed_json_body_is_a_validation_error(raising_client):
    response = await raising_client.post(
        "/api/test-errors/body", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_route_is_a_404_envelope(client):
    response = await client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_wrong_method_is_a_405_envelope(client):
    response = await client.delete("/api/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_success_envelope_has_timestamp_and_version(client):
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["meta"]["version"] == "1.0"
    assert body["meta"]["timestamp"].endswith("Z") or "+00:00" in body["meta"]["timestamp"]


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))  # up to year 2100
def test_json_utc_now_writes_the_time_as_pydantic_serializes_the_datetime(time_ns):
    clock = _JsonUtcClock()
    moment = datetime.fromtimestamp(time_ns // 10**9, UTC).replace(
        microsecond=time_ns % 10**9 // 1000
    )
    assert clock(time_ns) == TypeAdapter(datetime).dump_json(moment)


def test_json_utc_now_reformats_only_when_the_second_changes():
    clock = _JsonUtcClock()
    second = 1_764_400_000 * 10**9
    assert clock(second) == b'"2025-11-29T07:06:40Z"'  # no fraction when it is zero
    assert clock(second + 120_000) == b'"2025-11-29T07:06:40.000120Z"'
    assert clock(second + 10**9 + 999_999_999) == b'"2025-11-29T07:06:41.999999Z"'
    assert clock(second) == b'"2025-11-29T07:06:40Z"'  # back in time (clock set back) too


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5))))
def test_envelope_json_writes_the_bytes_the_envelope_model_writes(data):
    written = envelope_json(TypeAdapter(list[dict[str, int | str]]).dump_json(data))
    stamp = json.dumps(json.loads(written)["meta"]["timestamp"])
    model = Envelope[list[dict[str, int | str]]](
        data=data, meta=Meta(timestamp=TypeAdapter(datetime).validate_json(stamp))
    )
    assert written == model.model_dump_json(by_alias=True).encode()


async def test_the_api_document_gives_every_error_answer_the_one_error_schema(client) -> None:
    document = (await client.get("/api/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["ErrorEnvelope"] == error_schemas()["ErrorEnvelope"]
    assert schemas["ErrorEnvelope"]["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert {"code", "message"} <= set(schemas["ErrorBody"]["required"])
    operations = [
        operation
        for path, item in document["paths"].items()
        if path.startswith("/api/") and not path.startswith("/api/health")
        for operation in item.values()
    ]
    refused = [operation["responses"].get("401") for operation in operations]
    assert len(refused) > 60
    assert all(
        answer["content"]["application/json"]["schema"] == {"$ref": ERROR_SCHEMA_REF}
        for answer in refused
    ), [op["operationId"] for op in operations if "401" not in op["responses"]]
    # What the document promises is what an error answer is.
    answer = await client.get("/api/media/requests")
    assert answer.status_code == 401
    assert ErrorEnvelope.model_validate(answer.json()).model_dump() == answer.json()


def test_no_route_builds_a_pydantic_field_for_an_error_answer() -> None:
    """~1,000 of them (every error status of every route) were ~0.1 s of each start."""
    from medianest.app import _ROUTER_MODULES

    annotations = [
        field.field_info.annotation
        for module in _ROUTER_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for field in route.response_fields.values()
    ]
    assert annotations  # the routes that answer a model for another status still do
    assert ErrorEnvelope not in annotations


def test_the_envelope_time_is_found_in_the_largest_meta_pydantic_writes() -> None:
    """`envelope_time` searches a body's last bytes only: the longest meta (a Plex page of
    a large library, stale, read and answered at times with a fraction) still starts
    within them."""
    data = [{"title": f"Film {n}"} for n in range(500)]
    meta = CachePageMeta(
        timestamp=datetime(2026, 12, 6, 23, 59, 59, 999_999, tzinfo=UTC),
        page=99_999,
        page_size=100,
        total=9_999_999,
        stale=True,
        data_at=datetime(2026, 12, 6, 23, 59, 58, 999_999, tzinfo=UTC),
    )
    body = (
        CachedPagedEnvelope[dict[str, str]](data=data, meta=meta)
        .model_dump_json(by_alias=True)
        .encode()
    )
    time = envelope_time(body)
    assert time is not None
    assert body[time] == b',"meta":{"timestamp":"2026-12-06T23:59:59.999999Z"'
    assert envelope_time(json.dumps(data).encode()) is None
