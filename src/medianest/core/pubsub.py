"""Redis pub/sub channel names of one deployment.

Keys live in the numbered database a deployment selects (`redis://host/3`), but
channels are shared by every client of the server, whatever database it selected:
two deployments on one Redis (a household's MediaNest and a second one on database 4)
would act on each other's messages — a cancel of download 5, a socket event for the
room of user 3, a session invalidation. Every channel carries the database number, so
the database is the unit of isolation for messages as it is for keys.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from redis.asyncio import Redis


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
