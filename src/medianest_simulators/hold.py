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
    released: threading.Event


class RequestHold:
    """The requests to hold; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._spent: list[_Rule] = []  # held as many as asked; their requests still wait
        self.waiting = 0

    def hold(self, path_prefix: str, method: str | None = None, times: int | None = None) -> None:
        rule = _Rule(path_prefix, method.upper() if method else None, times, threading.Event())
        with self._lock:
            self._rules.append(rule)

    def release(self, path_prefix: str | None = None) -> None:
        """Answer the held requests (only those held for `path_prefix`, when given), and
        hold no more of them."""
        with self._lock:
            for rules in (self._rules, self._spent):
                for rule in [r for r in rules if path_prefix in (None, r.path_prefix)]:
                    rule.released.set()
                    rules.remove(rule)

    def matches(self, method: str, path: str) -> threading.Event | None:
        """The event that releases this request when it is held, else None."""
        with self._lock:
            for rule in self._rules:
                if path.startswith(rule.path_prefix) and rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                            self._spent.append(rule)
                    return rule.released
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
