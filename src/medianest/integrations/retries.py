"""The tries of one upstream call: per-try timeout, backoff with jitter (stamina), Retry-After.

Every try is counted in Prometheus and logged (service, route, status, duration, attempt,
breaker state); `ResilientClient` decides how many tries a call gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import stamina

from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.core.logging import get_logger
from medianest.core.metrics import UPSTREAM_DURATION, UPSTREAM_REQUESTS
from medianest.integrations.breaker import CircuitBreaker
from medianest.integrations.outcomes import (
    RetryableFailure,
    redirect_problem,
    retry_after_seconds,
    service_name,
)
from medianest.integrations.tls import (
    TlsProblemKind,
    plain_http_refused,
    speaks_https,
    tls_problem,
)

# Logged under the client's module name, as before this split: log filters keep matching.
log = get_logger("medianest.integrations.http")

MAX_CONNECTIONS_PER_SERVICE = 10
# An idle connection is not used again after 4 s: under the 5 s keep-alive of Node's http
# server (Overseerr, Seerr, Uptime Kuma) and uvicorn. With httpx's default (also 5 s) a
# request went out on a connection the server was closing at that moment and failed
# unanswered, and a call that is not retried (plex.tv's) failed with it.
KEEPALIVE_EXPIRY_SECONDS = 4.0
POOL_LIMITS = httpx.Limits(
    max_connections=MAX_CONNECTIONS_PER_SERVICE,
    max_keepalive_connections=MAX_CONNECTIONS_PER_SERVICE,
    keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# The whole call (all tries and backoffs) may take this many per-request timeouts.
DEADLINE_TIMEOUTS = 3.0
# Retry-After is honoured up to this many initial backoffs (10 s by default).
RETRY_AFTER_CAP_FACTOR = 10.0
# The most an answer may hold once unpacked: pages of a library, a poster, a long playlist
# fit many times over; more is a wrong URL or a broken proxy, not an answer to read.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# The headers of the body as sent, not of the unpacked body a bounded read keeps.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class RetryingSender:
    """Sends one call to one service as up to `attempts` tries over a shared deadline."""

    def __init__(
        self,
        service: str,
        *,
        http: Callable[[], httpx.AsyncClient],
        breaker: CircuitBreaker,
        attempts: int,
        initial_wait: float,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self.service = service
        self._scrub = scrub  # the client's secrets out of text bound for logs and answers
        # Asked for at each try: the client's pool is built on its first use.
        self._http = http
        self.breaker = breaker
        self.attempts = attempts
        self.initial_wait = initial_wait

    async def send(
        self,
        method: str,
        path: str,
        *,
        route: str,
        attempts: int,
        per_try: float,
        deadline: float,
        started: float,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """The answer of the last try; RetryableFailure when every try failed."""
        initial = self.initial_wait
        response: httpx.Response | None = None
        async for attempt in stamina.retry_context(
            on=self._backoff_hook,
            attempts=attempts,
            timeout=deadline,
            wait_initial=initial,
            wait_max=initial * 2 ** (self.attempts - 1) + initial,
            wait_jitter=initial,
            wait_exp_base=2,
        ):
            with attempt:
                remaining = deadline - (time.monotonic() - started)
                response = await self._one_try(
                    method,
                    path,
                    route=route,
                    attempt=attempt.num,
                    try_timeout=max(0.05, min(per_try, remaining)),
                    retryable=attempts > 1,
                    params=params,
                    json=json,
                    headers=headers,
                )
        assert response is not None  # stamina either returned a try's answer or raised
        if response.is_redirect:
            raise self._redirected(response)
        if plain_http_refused(response):  # nginx's or Go's 400 for plain HTTP at TLS
            url = self._http().base_url
            raise self._misconfigured("speaks_https", speaks_https(service_name(self.service), url))
        return response

    async def _one_try(
        self,
        method: str,
        path: str,
        *,
        route: str,
        attempt: int,
        try_timeout: float,
        retryable: bool,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        began = time.monotonic()
        status = "cancelled"
        try:
            # The whole try, body included: httpx's timeout bounds each read, and a body
            # trickled a byte at a time would never trip it.
            async with asyncio.timeout(try_timeout):
                response = await self._bounded(
                    method, path, params=params, json=json, headers=headers, timeout=try_timeout
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            status = "timeout"
            raise RetryableFailure("timed out") from exc
        except _AnswerTooLarge:
            status = "too_large"
            raise UpstreamError(
                f"{service_name(self.service)} gave an answer too large for MediaNest to read.",
                details={"service": self.service, "limitBytes": MAX_ANSWER_BYTES},
            ) from None
        except httpx.TransportError as exc:
            status, misconfigured = await self._no_answer(exc)
            if misconfigured is not None:
                raise misconfigured from None
            raise RetryableFailure("unreachable") from exc
        else:
            status = str(response.status_code)
            if retryable and response.status_code in RETRYABLE_STATUSES:
                raise RetryableFailure(
                    "rate limited" if response.status_code == 429 else "server error",
                    status=response.status_code,
                    retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                )
            return response
        finally:
            elapsed = time.monotonic() - began
            UPSTREAM_REQUESTS.inc(service=self.service, status=status)
            UPSTREAM_DURATION.observe(elapsed, service=self.service)
            log.info(
                "upstream_call",
                service=self.service,
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                attempt=attempt,
                breaker=self.breaker.state,
            )

    async def _bounded(self, method: str, path: str, **options: Any) -> httpx.Response:
        """The answer with its body read (unpacked) up to MAX_ANSWER_BYTES."""
        http = self._http()
        request = http.build_request(method, path, **options)
        streamed = await http.send(request, stream=True)
        body = bytearray()
        try:
            async for chunk in streamed.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise _AnswerTooLarge
        finally:
            await streamed.aclose()
        headers = [(k, v) for k, v in streamed.headers.multi_items() if k not in _WIRE_HEADERS]
        return httpx.Response(
            streamed.status_code, headers=headers, content=bytes(body), request=request
        )

    def _redirected(self, response: httpx.Response) -> UpstreamError:
        """Redirects are not followed: the key or token would go wherever the Location
        points (httpx keeps X-Api-Key and X-Plex-Token across hosts). The admin is told
        where it points, to save that address if it is right."""
        moved = redirect_problem(
            service_name(self.service),
            self._http().base_url,
            response.request.url,
            response.headers["Location"],
        )
        log.warning("upstream_redirected", service=self.service, error=self._scrub(moved))
        return UpstreamError(
            self._scrub(moved),
            details={"service": self.service, "upstreamStatus": response.status_code},
        )

    async def _no_answer(self, exc: httpx.TransportError) -> tuple[str, ServiceUnavailable | None]:
        """Why a try got no answer (its log status), and the error to raise at once when
        the address is wrong rather than the service down (None: an outage). A closed or
        reset connection, or a TLS alert (h11: an illegal status line), to an http://
        address is asked about with one handshake (`tls.tls_problem`)."""
        url = self._http().base_url
        unanswered = isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError))
        problem = await tls_problem(service_name(self.service), url, exc, unanswered=unanswered)
        if problem is None:
            return (
                "connect_error" if isinstance(exc, httpx.ConnectError) else "transport_error"
            ), None
        kind, message = problem
        return kind, self._misconfigured(kind, message)

    def _misconfigured(self, kind: TlsProblemKind, message: str) -> ServiceUnavailable:
        """A refused certificate or an http:// address of an HTTPS-only server is the
        configuration's fault: not retried, no outage for the breaker, and the error says
        what to fix instead of "cannot be reached"."""
        log.warning(
            f"upstream_{kind}", service=self.service, host=self._http().base_url.host, error=message
        )
        return ServiceUnavailable(message, details={"service": self.service, "reason": "tls"})

    def _backoff_hook(self, exc: Exception) -> bool | float:
        if not isinstance(exc, RetryableFailure):
            return False
        if exc.retry_after is not None:
            return min(exc.retry_after, self.initial_wait * RETRY_AFTER_CAP_FACTOR)
        return True


class _AnswerTooLarge(Exception):
    """The body went past MAX_ANSWER_BYTES; the read stopped there."""
