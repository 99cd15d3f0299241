"""The platform half of the application context: what every package may rely on
(settings, database, cache, rate limiter, realtime, the closers run at shutdown).

The typed context with the integrations and the run-time limits is
`medianest.context.AppContext`, a subclass: core imports no package above it.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from medianest.core.cache import Cache
from medianest.core.crypto import SecretBox
from medianest.core.ratelimit import RateLimiter
from medianest.core.realtime import Realtime
from medianest.core.secrets_store import AppSecrets
from medianest.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Stops something started with the context (a refresh task, a client pool), at shutdown.
Closer = Callable[[], Awaitable[None]]


@dataclass(kw_only=True, eq=False)
class CoreContext:
    settings: Settings
    secrets: AppSecrets
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    cache: Cache
    rate_limiter: RateLimiter
    realtime: Realtime
    redis: Redis | None = None
    instance_id: str = ""
    # Run in order by `app.close_context`, before Redis and the engine are closed.
    closers: list[Closer] = field(default_factory=list)


T = TypeVar("T")


class PerContext(Generic[T]):
    """What one package keeps for each app context (its session cache, its monitor):
    typed, and reachable only through that package's own accessor. The context sits
    below the packages and cannot name their types; held weakly, the value goes when
    its context does."""

    def __init__(self, create: Callable[[CoreContext], T] | None = None) -> None:
        self._create = create
        self._values: weakref.WeakKeyDictionary[CoreContext, T] = weakref.WeakKeyDictionary()

    def get(self, ctx: CoreContext) -> T | None:
        """The value, created on first use when the owner gave a way to create it."""
        value = self._values.get(ctx)
        if value is None and self._create is not None:
            value = self._values[ctx] = self._create(ctx)
        return value

    def set(self, ctx: CoreContext, value: T) -> None:
        self._values[ctx] = value

    def pop(self, ctx: CoreContext) -> T | None:
        return self._values.pop(ctx, None)
