"""A leader lease: at most one app instance holds a named, expiring lock at a time.

Singleton jobs (the status monitor, schedulers) call `try_acquire()` before each run;
the holder renews by calling it again before the TTL ends, others get False until the
holder releases or stops renewing. With Redis the lease is a `SET NX PX` key renewed
and released by Lua scripts that check the holder; without Redis it is a row in
`leases` claimed with one conditional UPDATE (or an INSERT for a new name).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from medianest.core.context import CoreContext
from medianest.core.logging import get_logger
from medianest.core.redis_guard import redis_failures
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import Lease

log = get_logger(__name__)

REDIS_KEY_PREFIX = "medianest:lease:"

# Take the key when free, extend it when we already hold it; one round trip, no race.
_ACQUIRE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Delete the key only if we still hold it (never someone else's newer lease).
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLease:
    """A named lease held by this app instance (`ctx.instance_id`) for `ttl_seconds`."""

    def __init__(self, ctx: CoreContext, name: str, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.ctx = ctx
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.holder = ctx.instance_id
        self.held = False

    async def try_acquire(self) -> bool:
        """Take or renew the lease; False when another instance holds it (or storage fails)."""
        try:
            if self.ctx.redis is not None:
                acquired = await self._acquire_redis()
            else:
                acquired = await self._acquire_db()
        except redis_failures(DBAPIError) as exc:
            _reraise_cancellation()
            # Without storage we cannot prove we are alone, so we do not act as leader.
            log.warning("lease_unavailable", lease=self.name, error=type(exc).__name__)
            acquired = False
        if acquired != self.held:
            log.info("lease_changed", lease=self.name, held=acquired, holder=self.holder)
        self.held = acquired
        return acquired

    async def release(self) -> None:
        """Give the lease up now so another instance can take over without waiting."""
        was_held, self.held = self.held, False
        if not was_held:
            return
        try:
            if self.ctx.redis is not None:
                await self.ctx.redis.eval(
                    _RELEASE_SCRIPT, 1, REDIS_KEY_PREFIX + self.name, self.holder
                )
            else:
                async with session_scope(self.ctx.session_factory) as session:
                    await session.execute(
                        delete(Lease).where(Lease.name == self.name, Lease.holder == self.holder)
                    )
        except redis_failures(DBAPIError) as exc:
            _reraise_cancellation()
            log.warning("lease_release_failed", lease=self.name, error=type(exc).__name__)

    async def _acquire_redis(self) -> bool:
        assert self.ctx.redis is not None
        result = await self.ctx.redis.eval(
            _ACQUIRE_SCRIPT,
            1,
            REDIS_KEY_PREFIX + self.name,
            self.holder,
            str(max(1, int(self.ttl_seconds * 1000))),
        )
        return int(result) == 1

    async def _acquire_db(self) -> bool:
        now = utcnow()
        expires_at = now + timedelta(seconds=self.ttl_seconds)
        async with session_scope(self.ctx.session_factory) as session:
            claimed = await session.execute(
                update(Lease)
                .where(
                    Lease.name == self.name,
                    (Lease.expires_at < now) | (Lease.holder == self.holder),
                )
                .values(holder=self.holder, expires_at=expires_at)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            async with session_scope(self.ctx.session_factory) as session:
                session.add(Lease(name=self.name, holder=self.holder, expires_at=expires_at))
        except IntegrityError:
            return False  # the row exists and is held by someone else
        return True


def _reraise_cancellation() -> None:
    # Drivers may wrap a cancellation in their own error; a stopping task must still stop.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
