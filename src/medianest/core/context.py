"""The application context: everything a request, a worker or a monitor needs, built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from medianest.core.cache import Cache
from medianest.core.crypto import SecretBox
from medianest.core.ratelimit import RateLimiter
from medianest.core.realtime import Realtime
from medianest.core.secrets_store import AppSecrets
from medianest.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    secrets: AppSecrets
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    cache: Cache
    rate_limiter: RateLimiter
    realtime: Realtime
    redis: Redis | None = None
    # Domain services register themselves here at start (integrations, monitor, worker).
    services: dict[str, Any] = field(default_factory=dict)
    instance_id: str = ""
