"""The one resilient HTTP client every integration is built on.

Per service: a pooled httpx.AsyncClient (`retries.POOL_LIMITS`), a per-request timeout,
retries with backoff and jitter for idempotent requests (stamina, `retries.py`), a circuit
breaker, and a last-known-good cache for reads. Every call is logged (service, route,
status, duration, breaker state) and counted in Prometheus; secrets never reach either.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from medianest import __version__
from medianest.core.cache import Cache, MemoryCache
from medianest.core.data_changes import note_read, note_valid_until
from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.core.logging import REDACTED, get_logger, redact_text
from medianest.core.metrics import UPSTREAM_REQUESTS
from medianest.core.single_flight import SingleFlight
from medianest.db.engine import release_current_connection, run_unbound
from medianest.integrations.breaker import BreakerOpen, CircuitBreaker
from medianest.integrations.outcomes import (
    REFUSALS,
    Fetched,
    RetryableFailure,
    ServiceHealth,
    UpstreamHTTPError,
    accepted,
    answered_status,
    outage_message,
    outage_reason,
    service_name,
)
from medianest.integrations.retries import (
    DEADLINE_TIMEOUTS,
    IDEMPOTENT_METHODS,
    POOL_LIMITS,
    RetryingSender,
)
from medianest.integrations.tls import tls_context
from medianest.settings import Settings

__all__ = ["Fetched", "ResilientClient", "ServiceHealth", "UpstreamHTTPError", "tls_context"]

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)

# Last-known-good answers outlive any outage we care to bridge.
LAST_GOOD_TTL_SECONDS = 7 * 24 * 3600.0
XML_CONTENT_TYPES = frozenset({"text/xml", "application/xml"})


class ResilientClient:
    """Calls one external service; see the module docstring for what it adds to httpx."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        settings: Settings,
        default_headers: dict[str, str] | None = None,
        cache: Cache | None = None,
        secrets: Sequence[str] = (),
        timeout: float | None = None,
        breaker: CircuitBreaker | None = None,
        xml_decoder: Callable[[bytes], Any] | None = None,
        display_name: Callable[[], str] | None = None,
    ) -> None:
        self.service = service
        self.display_name = display_name or (lambda: service_name(service))
        # For services that may answer XML although asked for JSON (Plex behind a proxy):
        # turns an XML body into the JSON answer's shape; raises ValueError when it cannot.
        self._xml_decoder = xml_decoder
        self.base_url = base_url.rstrip("/")
        # Parsed now, although the pool opens on the first call: a bad stored URL must be
        # refused while the integrations are built (that service off), not on a request.
        httpx.URL(self.base_url)
        self._timeout = timeout or settings.http_timeout_seconds
        self._ca_bundle = settings.ca_bundle
        self._cache: Cache = cache if cache is not None else MemoryCache(max_entries=500)
        self._secrets = [s for s in secrets if s]
        # Last-known-good entries belong to one server: a new URL must not inherit them.
        self._url_id = hashlib.sha256(self.base_url.encode()).hexdigest()[:8]
        # What answers made from its cached data depend on (core/data_changes.py).
        self.changes_source = f"upstream:{self.service}:{self._url_id}"
        # A shared breaker lets clients of one server (e.g. per-user tokens) share its health.
        self.breaker = breaker or CircuitBreaker(
            service,
            min_volume=settings.breaker_min_volume,
            reset_seconds=settings.breaker_reset_seconds,
        )
        self._tries = RetryingSender(
            service,
            http=lambda: self._http,
            breaker=self.breaker,
            attempts=settings.http_retry_attempts,
            initial_wait=settings.http_retry_initial_seconds,
            scrub=self._scrub,
        )
        self._headers = {"User-Agent": f"MediaNest/{__version__}", "Accept": "application/json"}
        self._headers.update(default_headers or {})
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self._reads: SingleFlight[Fetched] = SingleFlight()  # cached reads in flight

    @property
    def _http(self) -> httpx.AsyncClient:
        # Built on the first call: a server builds clients it may not call for days (plex.tv
        # until a Plex sign-in), and the first one loads the CA bundle (tls.tls_context).
        if self._client is None:
            if self._closed:  # as httpx answers a closed client
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(self._timeout),
                limits=POOL_LIMITS,
                follow_redirects=False,
                verify=tls_context(self._ca_bundle),
            )
        return self._client

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

    # --- requests ---------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the httpx timeout of each try)
        retry: bool | None = None,
        expected: Sequence[int] = (200, 201, 204),
        answer: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response:
        """One logical call: tries, backoff, breaker, logging; see the module docstring. A
        5xx `answer` accepts is the service's answer (UpstreamHTTPError), not an outage."""
        method = method.upper()
        route = self._scrub(path.split("?", 1)[0])
        # An answer made from a live call says what the service says now: not kept.
        note_valid_until(0.0)
        try:
            probe = self.breaker.acquire()
        except BreakerOpen as exc:
            raise self._refused_by_breaker(exc, method=method, route=route) from None
        # Whatever the service takes (up to the deadline), the request's database
        # connection is not held across it: a hung service must not drain the pool.
        await release_current_connection()
        per_try = timeout or self._timeout
        retryable = (method in IDEMPOTENT_METHODS) if retry is None else retry
        # A half-open probe is one try: it only has to tell whether the service is back.
        attempts = self._tries.attempts if retryable and not probe else 1
        deadline, started = per_try * DEADLINE_TIMEOUTS, time.monotonic()
        try:
            response = await self._tries.send(
                method,
                path,
                route=route,
                attempts=attempts,
                per_try=per_try,
                deadline=deadline,
                started=started,
                params=params,
                json=json,
                headers=headers,
            )
        except RetryableFailure as exc:
            self.breaker.record_failure(probe=probe)
            raise self._unavailable(exc.reason, status=exc.status) from None
        except BaseException:
            self.breaker.release(probe=probe)
            raise
        reason = outage_reason(response.status_code, expected)
        if reason is not None and not (answer is not None and answer(response)):
            self.breaker.record_failure(probe=probe)
            raise self._unavailable(reason, status=response.status_code)
        # Anything else proves the service is up, even an answer we did not expect.
        self.breaker.record_success(probe=probe)
        if response.status_code not in expected:
            name, text = self.display_name(), response.text[:2000]
            raise UpstreamHTTPError(self.service, response.status_code, text, name=name)
        return response

    # --- JSON reads with last-known-good ---------------------------------------------------
    async def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cache_key: str | None = None,
        fresh_ttl: float = 0,
        changed_at: float | None = None,
        forget_before: float | None = None,
        accept: Callable[[Any], object] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the httpx timeout of each try)
    ) -> Fetched:
        """GET and decode JSON; with `cache_key`, fall back to the last good answer.

        `cache_key` must name everything the answer depends on besides the service
        and its URL (e.g. the user when the call carries a user's token). With
        `fresh_ttl`, an answer younger than that is served without calling at all,
        unless it was stored before `changed_at` (the data changed since); one stored before
        `forget_before` not at all, not even while the service is down (what the caller may
        see changed). `accept` checks an answer's shape before it is kept (`accepted`).
        """
        return await self._get_cached(
            path,
            lambda response: accepted(self.decode(response), accept),
            params=params,
            headers=headers,
            cache_key=cache_key,
            fresh_ttl=fresh_ttl,
            changed_at=changed_at,
            forget_before=forget_before,
            timeout=timeout,
        )

    @property
    def cache(self) -> Cache:
        """The cache this client keeps its answers in (shared between processes with Redis)."""
        return self._cache

    async def get_text(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cache_key: str | None = None,
        fresh_ttl: float = 0,
        accept: Callable[[Any], object] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the httpx timeout of each try)
    ) -> Fetched:
        """Like `get_json` for text answers (e.g. Prometheus metrics); `.data` is a str."""
        return await self._get_cached(
            path,
            lambda response: accepted(response.text, accept),
            params=params,
            headers=headers,
            cache_key=cache_key,
            fresh_ttl=fresh_ttl,
            timeout=timeout,
        )

    async def _get_cached(
        self,
        path: str,
        decode: Callable[[httpx.Response], Any],
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        cache_key: str | None,
        fresh_ttl: float,
        timeout: float | None,  # noqa: ASYNC109  (the httpx timeout of each try)
        changed_at: float | None = None,
        forget_before: float | None = None,
    ) -> Fetched:
        key = f"upstream:{self.service}:{self._url_id}:{cache_key}" if cache_key else None
        cached = await self._cache.get(key) if key else None
        cached = None if cached and cached["at"] <= (forget_before or 0) else cached
        if cached is not None and fresh_ttl > 0:
            age = time.time() - (read_at := float(cached["at"]))
            if age < fresh_ttl and (changed_at is None or read_at > changed_at):
                # An answer made from this is current while it is.
                note_read(self.changes_source)
                note_valid_until(time.monotonic() + fresh_ttl - age)
                return Fetched(data=cached["data"], stale=False, read_at=read_at)
        fetch = functools.partial(
            self._fetch, path, decode, params, headers, timeout, cache_key, key, cached
        )
        if key is None:
            return await fetch()
        # When a cached answer expires under load, the requests that find it expired
        # share one read; the read is its own task, bound to none of their sessions.
        await release_current_connection()  # waiting on the service, as `request` does
        flight = (key, path, repr(sorted((params or {}).items())))
        return await self._reads.run(
            flight, functools.partial(run_unbound, fetch), changed_at=changed_at
        )

    async def _fetch(
        self,
        path: str,
        decode: Callable[[httpx.Response], Any],
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: float | None,  # noqa: ASYNC109  (the httpx timeout of each try)
        cache_key: str | None,
        key: str | None,
        cached: Any,
    ) -> Fetched:
        try:
            response = await self.request(
                "GET", path, params=params, headers=headers, timeout=timeout
            )
            data = decode(response)
        except (ServiceUnavailable, UpstreamError) as exc:
            # A refusal (401, 404...) is an answer: old data would hide it (now, or later).
            status = answered_status(exc)
            if cached is not None and key is not None and status in REFUSALS:
                await self._cache.delete(key)
            if cached is None or status < 500:
                raise
            last_read_at = float(cached["at"])
            log.warning(
                "upstream_stale_served",
                service=self.service,
                cache_key=self._scrub(cache_key or ""),
                age_seconds=round(time.time() - last_read_at, 1),
                error=exc.code,
            )
            return Fetched(data=cached["data"], stale=True, read_at=last_read_at)
        read_at = time.time() if key is not None else None
        if key is not None:
            await self._cache.set(key, {"data": data, "at": read_at}, LAST_GOOD_TTL_SECONDS)
        return Fetched(data=data, stale=False, read_at=read_at)

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body (or an XML body through the XML decoder), or UpstreamError."""
        if response.status_code == 204 or not response.content:
            return None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        xml = self._xml_decoder is not None and content_type in XML_CONTENT_TYPES
        try:
            if self._xml_decoder is not None and xml:
                return self._xml_decoder(response.content)
            return response.json()
        except (ValueError, RecursionError):  # nested deeper than the decoder recurses
            log.warning(
                "upstream_malformed_xml" if xml else "upstream_malformed_json",
                service=self.service,
                route=self._scrub(response.request.url.path),
                status=response.status_code,
            )
            raise UpstreamError(
                f"{self.display_name()} gave an answer MediaNest cannot read"
                f" (malformed {'XML' if xml else 'JSON'}).",
                details={"service": self.service, "upstreamStatus": response.status_code},
            ) from None

    def parse(self, model: type[T], data: Any) -> T:
        """Validate an answer against a model; a mismatch is the service's fault (502)."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Field locations only: the values could carry tokens.
            fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
            log.warning("upstream_unexpected_shape", service=self.service, fields=fields[:10])
            raise UpstreamError(
                f"{self.display_name()} gave an answer MediaNest does not understand.",
                details={"service": self.service, "fields": fields[:10]},
            ) from None

    # --- helpers ---------------------------------------------------------------------------
    def _refused_by_breaker(
        self, exc: BreakerOpen, *, method: str, route: str
    ) -> ServiceUnavailable:
        """Count and log a call the open breaker refused; the error to raise for it."""
        UPSTREAM_REQUESTS.inc(service=self.service, status="breaker_open")
        log.warning(
            "upstream_call",
            service=self.service,
            method=method,
            route=route,
            status="breaker_open",
            duration_ms=0.0,
            breaker=exc.state,
        )
        return self._unavailable("circuit open", retry_in=exc.retry_in)

    def _unavailable(
        self, reason: str, *, status: int | None = None, retry_in: float | None = None
    ) -> ServiceUnavailable:
        details: dict[str, Any] = {"service": self.service, "reason": reason}
        details |= {"upstreamStatus": status} if status is not None else {}
        details |= {"retryInSeconds": round(retry_in, 1)} if retry_in is not None else {}
        message = outage_message(self.service, reason, name=self.display_name())
        return ServiceUnavailable(message, details=details)

    def _scrub(self, text: str) -> str:
        """Remove configured secrets and secret-looking values from text bound for logs."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_text(text)
