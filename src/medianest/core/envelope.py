"""The response envelope of the API: `{success, data, meta}` and `{success: false, error}`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from medianest import API_VERSION

T = TypeVar("T")


class ApiModel(BaseModel):
    """Base for API schemas: camelCase on the wire, snake_case in Python. Validators and
    serializers are built on first use, with the routes that answer with them
    (core/deps.DatabaseRoute): 0.6 MB of an idle server (docs/performance.md)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, defer_build=True
    )


class ApiInput(ApiModel):
    """Base for request bodies: unknown fields are rejected, not silently dropped."""

    # Built at once: FastAPI wraps a body's model in a field of its own, and a model
    # built inside that wrapping warns that the wrapping's alias has no effect.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        defer_build=False,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # No text field means a NUL, and PostgreSQL cannot even compare one (a 500 there,
        # silently fine on SQLite): refused for every body, one rule for both backends.
        texts = value.values() if isinstance(value, dict) else value
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(texts, list | tuple | set) and any(
            isinstance(text, str) and "\x00" in text for text in texts
        ):
            raise ValueError("Text must not contain NUL characters.")
        return value


class Meta(ApiModel):
    timestamp: datetime
    version: str = API_VERSION


class PageMeta(Meta):
    page: int
    page_size: int
    total: int


class Envelope(ApiModel, Generic[T]):
    success: Literal[True] = True
    data: T
    meta: Meta


class PagedEnvelope(ApiModel, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    meta: PageMeta


class ErrorBody(ApiModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(ApiModel):
    success: Literal[False] = False
    error: ErrorBody


def now_utc() -> datetime:
    return datetime.now(UTC)


class _JsonUtcClock:
    """The current UTC time as pydantic writes a datetime in JSON ("...T14:17:31.123456Z",
    no fraction when it is zero), for answers built without a model. Formats the date
    and time once a second; the bytes must stay pydantic's (a property test compares)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""

    def __call__(self, time_ns: int | None = None) -> bytes:
        second, nanos = divmod(time.time_ns() if time_ns is None else time_ns, 1_000_000_000)
        if second != self._second:
            self._prefix = time.strftime('"%Y-%m-%dT%H:%M:%S', time.gmtime(second)).encode()
            self._second = second
        micros = nanos // 1000
        return self._prefix + (b'.%06dZ"' % micros if micros else b'Z"')


json_utc_now = _JsonUtcClock()
# What precedes the envelope's `meta.timestamp` (then the time as a JSON string).
META_TIMESTAMP = b',"meta":{"timestamp":'
# How far from its end an envelope's `meta.timestamp` starts, at most: the meta comes
# last, and its time, version, page, staleness and age take ~150 bytes.
_META_FROM_END = 256


def envelope_time(body: bytes) -> slice | None:
    """Where `body`, an envelope, says when it was sent: `META_TIMESTAMP` and the time
    after it, closing quote included; None for a body that is no envelope. Only its last
    bytes are searched (the meta comes last), so a page of any size costs the same."""
    at = body.rfind(META_TIMESTAMP, max(0, len(body) - _META_FROM_END))
    if at == -1:
        return None
    end = body.find(b'"', at + len(META_TIMESTAMP) + 1)  # the time's closing quote
    return None if end == -1 else slice(at, end + 1)


_META_END = b',"version":' + json.dumps(API_VERSION).encode() + b"}}"


def envelope_json(data: bytes) -> bytes:
    """`envelope(data)` as JSON bytes, around `data` already serialized (a cached body):
    the bytes pydantic writes for `Envelope` (a test compares); building the model per
    request cost more than the rest of a cached answer."""
    return b'{"success":true,"data":' + data + META_TIMESTAMP + json_utc_now() + _META_END


def envelope(data: T) -> Envelope[T]:
    return Envelope[T](data=data, meta=Meta(timestamp=now_utc()))


def paged(items: list[T], *, page: int, page_size: int, total: int) -> PagedEnvelope[T]:
    return PagedEnvelope[T](
        data=items,
        meta=PageMeta(timestamp=now_utc(), page=page, page_size=page_size, total=total),
    )


def error_payload(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
    }


ERROR_SCHEMA_REF = "#/components/schemas/ErrorEnvelope"


def error_response(description: str) -> dict[str, Any]:
    """An error answer in the OpenAPI document, given as a reference to `ErrorEnvelope`,
    not as `{"model": ErrorEnvelope}`: FastAPI builds a pydantic field for every model
    response of every route as it builds the route (about a thousand here), all
    for the same schema, which `error_schemas` adds to the document once."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: error_response(description)
    for status, description in (
        (400, "Invalid request"),
        (401, "Not signed in"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (422, "Validation error"),
        (429, "Rate limited"),
        (500, "Internal error"),
        (502, "Upstream error"),
        (503, "Service unavailable"),
    )
}


def error_schemas() -> dict[str, Any]:
    """The OpenAPI components the error answers refer to: `ErrorEnvelope` and its parts."""
    schema = ErrorEnvelope.model_json_schema(
        mode="serialization", ref_template="#/components/schemas/{model}"
    )
    parts = schema.pop("$defs", {})
    return {"ErrorEnvelope": schema, **parts}
