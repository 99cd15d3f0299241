"""Answers from memory before FastAPI: for the few GET endpoints that are polled.

A hot handler is an accelerator, never the only way to an answer: it answers only when
everything it needs is already in memory (a cached session, a fresh aggregate) and
returns False otherwise, and the request goes on to FastAPI's route, which stays the
documented one (OpenAPI) and gives the same answer the slow way. Routing and dependency
resolution cost more than a cached answer itself (docs/performance.md: bare FastAPI
against bare Starlette); this layer is what lets a polled endpoint run
close to the framework's floor. Tests compare both ways, answer for answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from medianest.core.context import CoreContext
from medianest.core.metrics import HOT_PATH_ANSWERS

# The app's context type (core does not know the subclass the app builds).
Ctx = TypeVar("Ctx", bound=CoreContext)
# (context, scope, receive, send) -> True when it answered, False to let FastAPI answer.
HotHandler = Callable[[Ctx, Scope, Receive, Send], Awaitable[bool]]


class HotPaths(Generic[Ctx]):
    """Pure ASGI: exact (method, path) matches go to their hot handler first."""

    def __init__(self, app: ASGIApp, context: Callable[[], Ctx | None]) -> None:
        self.app = app
        self._context = context
        self._handlers: dict[tuple[str, str], _Registered[Ctx]] = {}
        self.enabled = True

    def register(self, method: str, path: str, handler: HotHandler[Ctx], *, route: Any) -> None:
        """`route` is the FastAPI route answering the same path: set on the scope, so the
        request's metrics carry the same route label whichever way it was answered."""
        answered = HOT_PATH_ANSWERS.labels(route=path)
        self._handlers[(method, path)] = _Registered(handler, route, answered)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http":
            found = self._handlers.get((scope["method"], scope["path"]))
            ctx = self._context() if found is not None else None
            if found is not None and ctx is not None and not scope.get("query_string"):
                scope["route"] = found.route
                if await found.handler(ctx, scope, receive, send):
                    found.answered.inc()
                    return
                del scope["route"]
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class _Registered(Generic[Ctx]):
    handler: HotHandler[Ctx]
    route: Any
    answered: Any  # the prometheus counter child of this route
