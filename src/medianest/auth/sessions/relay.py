"""Session-cache invalidations between instances through Redis pub/sub: each instance
publishes what its commits invalidated and applies everyone else's (see `sessions.cache`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from medianest.auth.sessions.cache import ALL, SessionCache, session_cache_of
from medianest.core.context import CoreContext
from medianest.core.pubsub import InstanceRelay

if TYPE_CHECKING:
    from redis.asyncio import Redis

CHANNEL = "session-invalidate"


class RedisInvalidationRelay(InstanceRelay):
    """Publishes this instance's invalidations and applies everyone else's."""

    channel_name = CHANNEL
    payload_key = "targets"
    log_prefix = "session_invalidation"

    def __init__(self, cache: SessionCache, redis: Redis, instance_id: str) -> None:
        super().__init__(redis, instance_id)
        self._cache = cache

    def heard(self, names: set[str]) -> None:
        self._cache.invalidate(names, broadcast=False)

    def missed(self) -> None:
        self._cache.invalidate({ALL}, broadcast=False)

    def attach(self) -> None:
        self._cache.publish_with(self.publish)

    def detach(self) -> None:
        self._cache.publish_with(None)


async def start_session_invalidation(ctx: CoreContext) -> Callable[[], Awaitable[None]]:
    """With Redis, relay invalidations between instances; without, nothing to start."""
    cache = session_cache_of(ctx)
    if cache is None or ctx.redis is None:

        async def nothing() -> None:
            return None

        return nothing
    return await RedisInvalidationRelay(cache, ctx.redis, ctx.instance_id).start()
