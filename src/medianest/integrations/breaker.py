"""A circuit breaker per external service: stop calling a service that keeps failing.

Closed: calls go through and their outcomes fill a rolling window. Once the window
holds at least `min_volume` outcomes and half of them or more are failures, the
breaker opens: calls fail at once. After `reset_seconds` it half-opens and lets one
probe through at a time; a successful probe closes it, a failed one opens it again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from medianest.core.logging import get_logger
from medianest.core.metrics import BREAKER_STATE, BREAKER_STATE_VALUES

log = get_logger(__name__)

BreakerState = Literal["closed", "open", "half_open"]


class BreakerOpen(Exception):
    """The breaker refuses the call (open, or half-open with a probe already in flight)."""

    def __init__(self, state: BreakerState, retry_in: float) -> None:
        super().__init__(f"circuit {state}")
        self.state = state
        self.retry_in = retry_in


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        *,
        min_volume: int,
        reset_seconds: float,
        failure_ratio: float = 0.5,
        window: int = 20,
        clock: Callable[[], float] = time.monotonic,
        publish: bool = True,
    ) -> None:
        self.service = service
        self._min_volume = min_volume
        self._reset_seconds = reset_seconds
        self._failure_ratio = failure_ratio
        # The window is never smaller than the minimum volume, or it could never trip.
        self._outcomes: deque[bool] = deque(maxlen=max(window, min_volume))
        self._clock = clock
        self._opened_at: float | None = None
        self._probe_in_flight = False
        # Throwaway clients (an admin testing a draft) must not overwrite the live gauge.
        self._publish_metrics = publish
        self._publish("closed")

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_seconds:
            return "half_open"
        return "open"

    @property
    def refusing(self) -> bool:
        """A call now would be refused without reaching the service: open, or half-open
        with its one probe under way."""
        state = self.state
        return state == "open" or (state == "half_open" and self._probe_in_flight)

    def acquire(self) -> bool:
        """Admit a call or raise BreakerOpen; returns True when the call is the probe."""
        state = self.state
        if state == "closed":
            return False
        if state == "open":
            assert self._opened_at is not None
            retry_in = self._reset_seconds - (self._clock() - self._opened_at)
            raise BreakerOpen("open", max(0.0, retry_in))
        if self._probe_in_flight:
            raise BreakerOpen("half_open", 0.0)
        self._probe_in_flight = True
        self._publish("half_open")
        return True

    def record_success(self, *, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._opened_at = None
            self._outcomes.clear()
            log.info("breaker_closed", service=self.service)
            self._publish("closed")
            return
        if self._opened_at is None:
            self._outcomes.append(True)

    def record_failure(self, *, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._trip()
            return
        if self._opened_at is not None:
            return  # a call admitted before the trip; the breaker is already open
        self._outcomes.append(False)
        volume = len(self._outcomes)
        failures = volume - sum(self._outcomes)
        if volume >= self._min_volume and failures / volume >= self._failure_ratio:
            self._trip()

    def release(self, *, probe: bool) -> None:
        """The call ended without an outcome (cancelled): free the probe slot."""
        if probe:
            self._probe_in_flight = False

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._outcomes.clear()
        log.warning("breaker_opened", service=self.service, reset_seconds=self._reset_seconds)
        self._publish("open")

    def _publish(self, state: BreakerState) -> None:
        if self._publish_metrics:
            BREAKER_STATE.set(BREAKER_STATE_VALUES[state], service=self.service)
