"""Table changes between instances through Redis pub/sub: each instance publishes what
its commits changed and counts everyone else's (see `core.data_changes`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from medianest.core.context import CoreContext
from medianest.core.data_changes import EVERYTHING, TableChanges, changes_of
from medianest.core.pubsub import InstanceRelay

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisChangeRelay(InstanceRelay):
    """Publishes this instance's committed changes and counts everyone else's."""

    channel_name = "table-changes"
    payload_key = "tables"
    log_prefix = "table_changes"

    def __init__(self, changes: TableChanges, redis: Redis, instance_id: str) -> None:
        super().__init__(redis, instance_id)
        self._changes = changes

    def heard(self, names: set[str]) -> None:
        self._changes.changed(names, relay=False)

    def missed(self) -> None:
        self._changes.changed({EVERYTHING}, relay=False)

    def attach(self) -> None:
        self._changes.add_publisher(self.publish)

    def detach(self) -> None:
        self._changes.remove_publisher(self.publish)


async def start_change_relay(ctx: CoreContext) -> Callable[[], Awaitable[None]]:
    """With Redis, tell the other instances what this one's commits changed and count
    theirs; without, nothing to start (one process: its own events are all there are)."""
    if ctx.redis is None:

        async def nothing() -> None:
            return None

        return nothing
    changes = changes_of(str(ctx.engine.url))
    return await RedisChangeRelay(changes, ctx.redis, ctx.instance_id).start()
