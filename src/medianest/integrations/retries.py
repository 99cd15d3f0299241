"""The tries of one upstream call: per-try timeout, backoff with jitter (stamina), Retry-After.

Every try is counted in Prometheus and logged (service, route, status, duration, attempt,
breaker state); `ResilientClient` decides how many tries a call gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import stamina

from medianest.core.logging import get_logger
from medianest.core.metrics import UPSTREAM_DURATION, UPSTREAM_REQUESTS
from medianest.integrations.breaker import CircuitBreaker
from medianest.integrations.outcomes import RetryableFailure, retry_after_seconds

# Logged under the client's module name, as before this split: log filters keep matching.
log = get_logger("medianest.integrations.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# The whole call (all tries and backoffs) may take this many per-request timeouts.
DEADLINE_TIMEOUTS = 3.0
# Retry-After is honoured up to this many initial backoffs (10 s by default).
RETRY_AFTER_CAP_FACTOR = 10.0


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
    ) -> None:
        self.service = service
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
            response = await self._http().request(
                method, path, params=params, json=json, headers=headers, timeout=try_timeout
            )
        except httpx.TimeoutException as exc:
            status = "timeout"
            raise RetryableFailure("timed out") from exc
        except httpx.TransportError as exc:
            status = "connect_error" if isinstance(exc, httpx.ConnectError) else "transport_error"
            raise RetryableFailure("unreachable") from exc
        else:
            status = str(response.status_code)
            if retryable and response.status_code in RETRYABLE_STATUSES:
                await response.aread()
                raise RetryableFailure(
                    "rate limited" if response.status_code == 429 else "server error",
                    status=response.status_code,
                    retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                )
            return response
        finally:
            elapsed = time.monotonic() - began
            UPSTREAM_REQUESTS.labels(service=self.service, status=status).inc()
            UPSTREAM_DURATION.labels(service=self.service).observe(elapsed)
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

    def _backoff_hook(self, exc: Exception) -> bool | float:
        if not isinstance(exc, RetryableFailure):
            return False
        if exc.retry_after is not None:
            return min(exc.retry_after, self.initial_wait * RETRY_AFTER_CAP_FACTOR)
        return True
