"""Answers to signed-in GETs kept as bytes, per request as the caller sent it, until a
table they were built from changes: the general path that makes a repeated read cost
what a cached dashboard status does (docs/performance.md).

How a route takes part (every `api_router` GET route whose dependencies decide who asks
with a `who_asks` dependency): `DatabaseRoute` records the tables the request reads
(`core.data_changes`) from before its dependencies run until it answers. A 200 JSON or
HTML answer that wrote nothing, ran no SQL whose tables are unknown, set no cookie and
chose no caching of its own is kept, with the step of the change counter at which the
request began. The next request with the same URL and the same headers (cookies and
Authorization included: one caller's answer is never another's) runs the route's
`who_asks` dependencies — signed in, CSRF, role, the rate limit — and then, instead of
the rest of the route, gets the kept bytes while none of those tables changed since that
step and the answer is younger than `response_cache_seconds`. What else the route
depends on (ownership, query parameters, a service's configuration) decided the same
for the same request over the same tables. While one request makes an answer again that
only aged out, the others get the aged one (for at most `MAKING_WAIT_SECONDS` more)
rather than wait. The age bounds what the tables cannot tell: memory other code keeps (a
service's circuit, an upstream answer cached by the HTTP client), and, without Redis,
another process's commits.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from starlette.types import Scope

from medianest.core.conditional import ETAG_OF_BODY, body_etag
from medianest.core.data_changes import MEMORY, ReadSet, TableChanges, changes_of
from medianest.core.envelope import META_TIMESTAMP, envelope_time, json_utc_now
from medianest.core.recent import RecentlyUsed
from medianest.core.single_flight import Turns, wait_for_turn
from medianest.db.engine import release_current_connection

_KEY = "medianest.response_cache_key"
_SIGNED_IN = "medianest.signed_in"
_HIT = "medianest.response_cache_hit"
_MAKING = "medianest.response_cache_making"
# How long a request waits for another making the same answer before making its own.
MAKING_WAIT_SECONDS = 5.0
_NOT_KEPT_REMEMBERED = 4096
# Headers that do not change what the answer says (revalidation, hop-by-hop, tracing).
_KEY_IGNORES = frozenset(
    {
        b"if-none-match",
        b"if-modified-since",
        b"connection",
        b"keep-alive",
        b"cache-control",
        b"pragma",
        b"x-request-id",
        b"traceparent",
        b"tracestate",
    }
)
# Said per request, not by the answer: never kept.
_PER_REQUEST_HEADERS = frozenset(
    {b"content-length", b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset"}
)
_REFUSING_HEADERS = frozenset({b"set-cookie", b"cache-control", b"etag", b"content-encoding"})
_KEPT_TYPES = (b"application/json", b"text/html")


@dataclass(slots=True)
class _Kept:
    body: bytes
    is_json: bool
    etag: bytes
    headers: list[tuple[bytes, bytes]]
    status: int
    sequence: int
    tables: frozenset[str]
    kept_until: float  # time.monotonic()


class PreparedResponse(Response):
    """A response whose body and headers are given as they are sent: a kept answer sent
    again, or the gates' headers before an answer is chosen (core/deps.py). `Response`'s
    own `__init__` would render the body and make headers only to have them replaced."""

    def __init__(
        self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.body = body
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None


def _body_size(_key: bytes, kept: _Kept) -> int:
    return len(kept.body)


class ResponseCache:
    """Kept answers by request key: bounded in bytes, least recently used first out."""

    def __init__(self, changes: TableChanges, max_age_seconds: float, max_bytes: int) -> None:
        self.changes = changes
        self.max_age_seconds = max_age_seconds
        self.max_bytes = max_bytes
        self.max_answer_bytes = max(1, max_bytes // 16)
        self._entries: RecentlyUsed[bytes, _Kept] = RecentlyUsed(max_bytes, weigh=_body_size)
        self._making = Turns()
        # Requests whose last answer could not be kept: the next ones make their own at
        # once rather than wait for one another (until this time.monotonic()).
        self._not_kept: RecentlyUsed[bytes, float] = RecentlyUsed(_NOT_KEPT_REMEMBERED)
        # Answers that could have been kept but were out of date when made (a table they
        # read changed meanwhile): the next request makes them again while the others
        # wait for it, as for an answer never made.
        self._outdated: RecentlyUsed[bytes, bool] = RecentlyUsed(_NOT_KEPT_REMEMBERED)

    @property
    def enabled(self) -> bool:
        return self.max_age_seconds > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def answer(
        self, key: bytes, scope: Scope | None = None, *, aged: bool = False
    ) -> Response | None:
        """The kept answer for `key`, if it is still current (its tag in `scope`, for
        core/conditional.py: the body is hashed once, not per answer). `aged`: also one
        past its age limit by less than `MAKING_WAIT_SECONDS`, none of its tables changed
        (for the requests that come while another makes it again)."""
        kept = self._entries.peek(key)
        if kept is None:
            return None
        # (`glance_outside` ran as the request began: core/deps.py)
        now = time.monotonic()
        if kept.kept_until + MAKING_WAIT_SECONDS < now or not self._unchanged(
            kept.sequence, kept.tables
        ):
            self._entries.pop(key)
            return None
        if kept.kept_until < now and not aged:
            return None  # this request makes it again; `aged` ones get this one meanwhile
        self._entries.get(key)  # (marks it used)
        if scope is not None:
            scope[ETAG_OF_BODY] = kept.etag
        body = _fresh_timestamp(kept.body) if kept.is_json else kept.body
        return PreparedResponse(
            body, kept.status, [*kept.headers, (b"content-length", b"%d" % len(body))]
        )

    def keep(
        self,
        key: bytes,
        response: Response,
        sequence: int,
        reads: ReadSet,
    ) -> bool:
        """Keep `response` (made from `reads`, begun at step `sequence`) if it may be."""
        body = getattr(response, "body", None)
        if (
            response.status_code != 200
            or not isinstance(body, bytes)
            or not reads.known
            or reads.wrote
            or len(body) > self.max_answer_bytes
            or response.background is not None
        ):
            return False
        headers: list[tuple[bytes, bytes]] = []
        kind = b""
        for name, value in response.raw_headers:
            if name in _REFUSING_HEADERS:
                return False
            if name == b"content-type":
                kind = value.partition(b";")[0].strip().lower()
            if name not in _PER_REQUEST_HEADERS:
                headers.append((name, value))
        if kind not in _KEPT_TYPES:
            return False
        kept_until = min(time.monotonic() + self.max_age_seconds, reads.until)
        if kept_until <= time.monotonic() or not self._unchanged(sequence, reads.tables):
            self._outdated.put(key, True)  # changed while it was being made
            return False
        kept = _Kept(
            body=body,
            is_json=kind == b"application/json",
            etag=body_etag(body),
            headers=headers,
            status=200,
            sequence=sequence,
            tables=frozenset(reads.tables),
            kept_until=kept_until,
        )
        self._entries.put(key, kept)
        return True

    def making(self, key: bytes) -> asyncio.Event | None:
        """None: the caller makes the answer for `key` and calls `made` when done;
        otherwise another request is making it, and the event is set once it has."""
        event = self._making.current(key)
        if event is None:
            not_kept_until = self._not_kept.peek(key)
            if not_kept_until is None or not_kept_until < time.monotonic():
                self._making.take(key)
        return event

    def made(self, key: bytes) -> None:
        self._making.done(key)
        outdated = self._outdated.pop(key) is not None
        if key in self._entries or outdated:
            # Kept, or keepable once made from data that stays put: the next request makes
            # it while the others wait. Every request making its own for the not-kept
            # time, as below, turned one commit under load (the request sync's) into
            # every request remaking the page at once: p99 of 0.4-0.7 s where it was 30 ms
            # (docs/performance.md, "The p99 spike").
            self._not_kept.pop(key)
        else:
            self._not_kept.put(key, time.monotonic() + self.max_age_seconds)

    def _unchanged(self, sequence: int, tables: frozenset[str] | set[str]) -> bool:
        return self.changes.unchanged_since(sequence, tables) and MEMORY.unchanged_since(
            sequence, tables
        )


async def kept_or_made_meanwhile(cache: ResponseCache, key: bytes, scope: Scope) -> Response | None:
    """The kept answer; when another request is making it (a stampede as a kept answer
    runs out under load: every request in flight would make it again), that one's, once
    made; None when this request is to make it."""
    kept = cache.answer(key, scope)
    deadline: float | None = None  # set at the first wait: a kept answer needs no clock
    while kept is None:
        making = cache.making(key)
        if making is None:
            scope[_MAKING] = True  # `finish` tells the others
            return None
        # An answer that only aged out (none of its tables changed) serves while it is
        # made again: under load that making waits a loop turn per query, and every
        # request for it would wait as long.
        kept = cache.answer(key, scope, aged=True)
        if kept is not None:
            break
        if deadline is None:
            deadline = time.monotonic() + MAKING_WAIT_SECONDS
        left = deadline - time.monotonic()
        if left <= 0:
            return None  # waited long enough: this request makes its own
        await release_current_connection()  # waiting: the pool is not held meanwhile
        await wait_for_turn(making, left)
        # Nothing kept when the one making it is done (a commit made it out of date as it
        # was made): the next turn is taken again, so one request makes it while the
        # rest wait, instead of every waiting request making its own at once
        # (docs/performance.md, "The p99 spike at five minutes").
        kept = cache.answer(key, scope)
    scope[_HIT] = True
    return kept


def finish(cache: ResponseCache, key: bytes, scope: Scope) -> None:
    """After the request answered (kept or not): the requests waiting for it go on."""
    if scope.pop(_MAKING, False):
        cache.made(key)


def _fresh_timestamp(body: bytes) -> bytes:
    """The envelope's `meta.timestamp` says when the answer was sent: now."""
    time = envelope_time(body)
    if time is None:
        return body
    return body[: time.start] + META_TIMESTAMP + json_utc_now() + body[time.stop :]


def make_response_cache(database_url: str, max_age_seconds: float, max_bytes: int) -> ResponseCache:
    return ResponseCache(changes_of(database_url), max_age_seconds, max_bytes)


def request_key(scope: Scope) -> bytes | None:
    """What a GET's answer may depend on: its path, query and headers (None: not a GET)."""
    if scope["method"] != "GET":
        return None
    digest = hashlib.blake2b(scope["path"].encode(), digest_size=20)
    digest.update(b"?" + scope.get("query_string", b""))
    # In name order: the same headers sent in another order ask the same (wrk's two
    # threads did, and each made its own answers; a header repeated keeps its order).
    for name, value in sorted(scope["headers"], key=itemgetter(0)):
        if name not in _KEY_IGNORES:
            digest.update(b"\n" + name + b":" + value)
    return digest.digest()


def begin(scope: Scope) -> bytes | None:
    """Note the request's key (None: it cannot be answered from the cache)."""
    key = request_key(scope)
    if key is not None:
        scope[_KEY] = key
    return key


def mark_signed_in(scope: Scope) -> None:
    """Called by whatever decides that the caller is signed in: only such answers are kept
    (a public answer is the same for everyone and cheap; a refusal is never kept)."""
    scope[_SIGNED_IN] = True


def may_keep(scope: Scope) -> bool:
    """Whether the answer to this request may be kept (or a kept one sent): the caller is
    signed in and the answer is not itself a kept one."""
    return bool(scope.get(_SIGNED_IN)) and not scope.get(_HIT)


# A dependency that decides who asks: takes the request and FastAPI's response of
# dependencies (for headers), raises when the caller may not have the route's answer.
Gate = Callable[[Request, Response], Awaitable[object]]
GateT = TypeVar("GateT", bound=Gate)
_GATE_MARK = "__medianest_who_asks__"


def who_asks(dependency: GateT) -> GateT:
    """Mark a sign-in dependency (signed in, role, rate limit) as one the response cache
    runs before it sends a kept answer: whatever else a GET route depends on (ownership,
    a service's client, query parameters) made the kept answer from the same request and
    the same tables, so only who asks, and how often, is decided again."""
    setattr(dependency, _GATE_MARK, True)
    return dependency


def gates_of(dependant: Dependant) -> tuple[Gate, ...]:
    """The sign-in dependencies a route's dependencies use, in FastAPI's order (none: the
    route's answers are not kept)."""
    found: list[Gate] = []
    pending = list(dependant.dependencies)
    while pending:
        sub = pending.pop(0)
        if getattr(sub.call, _GATE_MARK, False):
            if sub.call not in found:
                found.append(sub.call)  # type: ignore[arg-type]
        else:
            pending[:0] = sub.dependencies
    return tuple(found)
