"""Redis pub/sub channel names of one deployment.

Keys live in the numbered database a deployment selects (`redis://host/3`), but
channels are shared by every client of the server, whatever database it selected:
two deployments on one Redis (a household's MediaNest and a second one on database 4)
would act on each other's messages — a cancel of download 5, a socket event for the
room of user 3, a session invalidation. Every channel carries the database number, so
the database is the unit of isolation for messages as it is for keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from medianest.core.logging import get_logger
from medianest.core.loops import call_on, cancel_until_done
from medianest.core.redis_guard import SOCKET_TIMEOUT_SECONDS, redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = get_logger(__name__)


def redis_database(redis: Redis | str) -> int:
    """The database number a client (or a Redis URL) selects; 0 when none is named."""
    if isinstance(redis, str):
        # As redis-py reads it: `?db=N` first, else the path of a TCP URL (`/N`).
        parts = urlsplit(redis)
        named = parse_qs(parts.query).get("db")
        if named:
            return int(named[0])
        path = parts.path.strip("/")
        return int(path) if parts.scheme != "unix" and path.isdigit() else 0
    return int(redis.connection_pool.connection_kwargs.get("db", 0) or 0)


def channel(redis: Redis | str, name: str) -> str:
    """`name` as the channel of the deployment on that database."""
    return f"medianest:{redis_database(redis)}:{name}"


# A subscription only reads, so a connection that died without a reset (Redis's host
# lost power, or the network dropped while Redis restarted) was read from for ever: the
# pushes of a separate worker, job nudges and other instances' changes stayed lost until
# a restart. After this long without a message the listener pings; a ping not answered
# within the socket timeout counts as a lost subscription (subscribed again).
QUIET_SECONDS = 5.0


class Heartbeat:
    """`get_message` of one subscription that notices a connection gone silent, and
    `on_gap` once redis-py reconnected it by itself.

    On a connection error in a read (or a ping) redis-py's PubSub connects again and
    sends SUBSCRIBE again (`PubSub.on_connect`, a connect callback) before it decides to
    raise; a client that retries commands (redis-py's default for `Redis(...)`) then goes
    on reading without a word. What was published meanwhile is lost, as when the listener
    subscribes again after an error, so the subscriber is told the same: messages may
    have been missed (`InstanceRelay.missed`). (The app's `from_url` clients try once:
    the error reaches the listener, which subscribes again itself.)"""

    def __init__(
        self,
        pubsub: PubSub,
        *,
        on_gap: Callable[[], None],
        quiet: float = QUIET_SECONDS,
        answer_within: float = SOCKET_TIMEOUT_SECONDS,
    ) -> None:
        self._pubsub = pubsub
        self._on_gap = on_gap
        self._quiet = quiet
        self._answer_within = answer_within
        self._heard = time.monotonic()
        self._pinged: float | None = None
        self._reconnected = False
        connection = pubsub.connection  # made by the SUBSCRIBE before this
        if connection is not None:
            # After redis-py's own callback (its resubscribe): called once that succeeded.
            # Kept as a weak method by redis-py: it goes with this heartbeat.
            connection.register_connect_callback(self._connected)

    def _connected(self, _connection: object) -> None:
        self._reconnected = True

    async def get_message(self, wait_seconds: float = 1.0) -> dict[str, Any] | None:
        """The next message, None when none came within `wait_seconds`; raises redis-py's
        ConnectionError once the connection stopped answering."""
        now = time.monotonic()
        if self._pinged is not None and now - self._pinged > self._answer_within:
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("the subscription's connection stopped answering")
        if self._pinged is None and now - self._heard > self._quiet:
            self._pinged = now
            await self._pubsub.ping()
        message: dict[str, Any] | None = await self._pubsub.get_message(timeout=wait_seconds)
        if self._reconnected:  # subscribed again by now: what came before is unknown
            self._reconnected = False
            log.warning("pubsub_reconnected_by_redis_client")
            self._on_gap()
        if message is None:
            return None
        self._heard, self._pinged = time.monotonic(), None
        return None if message.get("type") == "pong" else message


# How long an instance's start waits for its relay to listen (a Redis that accepts and
# never answers must delay start by this, not forever).
LISTEN_WAIT_SECONDS = 5.0
STOP_WAIT_SECONDS = 5.0


class InstanceRelay(ABC):
    """Names of what changed on this instance, told to the others of its deployment over
    one channel, and theirs heard here. Subclasses say what hearing means (`heard`), what
    to do when what was missed is unknown (`missed`: the subscription started or was lost),
    and how this instance's changes reach `publish` (`attach`, `detach`). A message is
    JSON: who sent it and, under `payload_key`, the names."""

    channel_name: str
    payload_key: str
    log_prefix: str  # e.g. "session_invalidation": its warnings are "<prefix>_not_published"...

    def __init__(self, redis: Redis, instance_id: str) -> None:
        self._redis = redis
        self._instance_id = instance_id
        self._channel = channel(redis, self.channel_name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._stopping = False

    @abstractmethod
    def heard(self, names: set[str]) -> None:
        """Another instance changed `names`."""

    @abstractmethod
    def missed(self) -> None:
        """Messages may have been lost: forget whatever they would have changed."""

    @abstractmethod
    def attach(self) -> None:
        """Start handing this instance's changes to `publish` (called by `start`)."""

    @abstractmethod
    def detach(self) -> None:
        """Stop handing them (called by the stop `start` returns)."""

    def publish(self, names: Iterable[str]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started, or stopped
        message = json.dumps({"from": self._instance_id, self.payload_key: sorted(names)})
        # A change on another loop of this process (another app on the same database)
        # hands the publish to the loop this relay's Redis client belongs to.
        call_on(loop, self._spawn, message)

    def _spawn(self, message: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except redis_failures() as exc:
            log.warning(f"{self.log_prefix}_not_published", error=type(exc).__name__)

    async def _listen(self) -> None:
        # (The flag, not only the cancellation, ends the loops: see `stop` in `start`.)
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.missed()  # what came while unsubscribed is unknown: start clean
                self._listening.set()
                heartbeat = Heartbeat(pubsub, on_gap=self.missed)
                while not self._stopping:
                    message = await heartbeat.get_message()
                    if message is not None:
                        self._receive(message.get("data"))
            except redis_failures() as exc:
                self._listening.clear()
                if self._stopping:
                    return
                log.warning(f"{self.log_prefix}_listener_lost", error=type(exc).__name__)
                self.missed()
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(*redis_failures()):
                    await pubsub.aclose()

    def _receive(self, data: Any) -> None:
        try:
            payload = json.loads(data)
            if payload.get("from") == self._instance_id:
                return
            names = {str(name) for name in payload[self.payload_key]}
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        self.heard(names)

    async def start(self) -> Callable[[], Awaitable[None]]:
        """Listen, and publish this instance's changes; returns what stops both. Serves
        once subscribed (the first subscription's `missed` would otherwise undo what the
        first requests did), waiting `LISTEN_WAIT_SECONDS` at most."""
        self._loop = asyncio.get_running_loop()
        self.attach()
        self._listener = asyncio.create_task(self._listen(), name=self.channel_name)
        try:
            await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_SECONDS)
        except TimeoutError:
            log.warning(f"{self.log_prefix}_not_listening", waited_seconds=LISTEN_WAIT_SECONDS)

        async def stop() -> None:
            self.detach()
            self._stopping = True
            listener = self._listener
            # Its read ends on its own timeout at the latest, and the flag ends it then.
            if listener is not None and not await cancel_until_done(
                listener, within=STOP_WAIT_SECONDS
            ):
                log.warning(f"{self.log_prefix}_listener_still_stopping")
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, *redis_failures()):
                    await task

        return stop
