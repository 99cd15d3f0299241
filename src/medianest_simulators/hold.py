"""Holding a simulator's requests: a test makes the service keep matching requests
(method and path prefix) unanswered until it releases them, to place another actor's
step exactly between the request and its answer (a real service that is busy does the
same). A held request is already in the request log, so a test can wait for it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from medianest_simulators.server import CONTROL_PREFIX


@dataclass
class _Rule:
    path_prefix: str
    method: str | None
    remaining: int | None  # how many more requests to hold; None: all


class RequestHold:
    """The requests to hold; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._released = threading.Event()
        self.waiting = 0

    def hold(self, path_prefix: str, method: str | None = None, times: int | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule(path_prefix, method.upper() if method else None, times))
            if self._released.is_set():
                self._released = threading.Event()

    def release(self) -> None:
        """Answer the held requests, and hold no more."""
        with self._lock:
            self._rules.clear()
            self._released.set()

    def matches(self, method: str, path: str) -> threading.Event | None:
        """The event that releases this request when it is held, else None."""
        with self._lock:
            for rule in self._rules:
                if path.startswith(rule.path_prefix) and rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return self._released
        return None


class HoldMiddleware:
    """Keeps a request the `RequestHold` matches until it is released (or the server stops)."""

    def __init__(self, app: ASGIApp, *, hold: RequestHold, stopping: threading.Event) -> None:
        self.app = app
        self.hold = hold
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        released = (
            self.hold.matches(scope["method"], path)
            if scope["type"] == "http" and not path.startswith(CONTROL_PREFIX)
            else None
        )
        if released is not None:
            self.hold.waiting += 1
            try:
                # threading.Events: the test releases from its own thread and loop.
                while not released.is_set() and not self.stopping.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            finally:
                self.hold.waiting -= 1
        await self.app(scope, receive, send)
