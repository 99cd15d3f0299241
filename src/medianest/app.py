"""The application factory: `create_app(settings)` builds the ASGI app.

The outermost layer is the request-context middleware, then the body limit, gzip,
ETag/304 (hashing the uncompressed body), then Socket.IO (which serves `/socket.io` and
hands everything else to FastAPI).
"""

from __future__ import annotations

import functools
import gc
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import socketio
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from medianest import __version__
from medianest.admin.connections import router as admin_connections_router
from medianest.admin.connections import webhook_router as admin_webhook_router
from medianest.admin.system import cookies_router as admin_cookies_router
from medianest.admin.system import router as admin_system_router
from medianest.admin.users import router as admin_router
from medianest.auth import identity as auth_identity
from medianest.auth import router as auth_router
from medianest.auth import service as auth_service
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.plex_sign_in import router as auth_plex_router
from medianest.auth.realtime import install_socket_authenticator, start_socket_recheck
from medianest.auth.sessions.maintenance import start_expired_purge
from medianest.auth.sessions.relay import start_session_invalidation
from medianest.auth.tokens import router as auth_tokens_router
from medianest.context import AppContext
from medianest.core.body_limit import BodyLimitMiddleware
from medianest.core.cache import Cache, MemoryCache, RedisCache
from medianest.core.change_relay import start_change_relay
from medianest.core.compression import compressed
from medianest.core.conditional import ConditionalGetMiddleware
from medianest.core.context import CoreContext
from medianest.core.crypto import SecretBox
from medianest.core.deps import install_subject_of
from medianest.core.envelope import error_schemas
from medianest.core.events import EventBus
from medianest.core.events import bus as process_bus
from medianest.core.handlers import add_exception_handlers
from medianest.core.heap import start_trimming
from medianest.core.logging import get_logger, request_log
from medianest.core.loop_watch import start_watching
from medianest.core.middleware import RequestContextMiddleware
from medianest.core.private_files import protect_data_dir, protect_sqlite_files
from medianest.core.ratelimit import RateLimiter
from medianest.core.realtime import Realtime
from medianest.core.redis_guard import SOCKET_TIMEOUT_SECONDS, RedisGuard
from medianest.core.route_index import RouteIndex
from medianest.core.secrets_store import load_app_secrets
from medianest.dashboard import router as dashboard_router
from medianest.dashboard.events import ServicesChanged
from medianest.dashboard.monitor import start_status_monitor
from medianest.db import migrate
from medianest.db.engine import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from medianest.integrations import service_store
from medianest.limits import store as limits_store
from medianest.media import router as media_router
from medianest.media import sync as media_sync
from medianest.media import webhooks as media_webhooks
from medianest.notifications import delivery as notification_delivery
from medianest.notifications import router as notifications_router
from medianest.notifications import subscribers as notification_subscribers
from medianest.ops import metrics_router
from medianest.ops import router as ops_router
from medianest.pages import install_pages, page_routes
from medianest.plex import router as plex_router
from medianest.settings import Settings
from medianest.youtube import router as youtube_router
from medianest.youtube import subscribers as youtube_subscribers
from medianest.youtube.jobs import heartbeat as youtube_heartbeat
from medianest.youtube.jobs import worker as youtube_worker
from medianest.youtube.subscriptions import router as youtube_subscriptions_router
from medianest.youtube.subscriptions import scheduler as youtube_scheduler

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

# A background part of the app (status monitor, download workers, schedulers):
# started after the context exists, it returns the coroutine that stops it.
BackgroundStarter = Callable[[AppContext], Awaitable[Callable[[], Awaitable[None]]]]

# The modules whose `router`'s routes the app serves, in this order. FastAPI tries the
# routes one after the other for every request (no two share a path): the polled first.
_ROUTER_MODULES = (
    dashboard_router,
    auth_router,
    ops_router,
    metrics_router,
    auth_plex_router,
    auth_tokens_router,
    media_router,
    media_webhooks,
    notifications_router,
    plex_router,
    youtube_router,
    youtube_subscriptions_router,
    admin_router,
    admin_connections_router,
    admin_system_router,
    admin_cookies_router,
    admin_webhook_router,
)


@functools.cache
def _route_table() -> tuple[BaseRoute, ...]:
    """Every route of the app, once per process and shared by its apps: the routers'
    own routes side by side, not included. For an included router FastAPI builds each
    route a second time, on the first request that walks past it, and matches every
    request through the inclusion (docs/performance.md, "Routes side by side"); a
    router's prefix, tags, responses and dependencies are already on its routes.
    Shared, the routes are out of reach of `app.dependency_overrides` (MediaNest uses
    none: its tests use the real dependencies)."""
    return tuple(
        [route for module in _ROUTER_MODULES for route in module.router.routes] + page_routes()
    )


# MediaNest reports through its Prometheus metrics and JSON logs (docs/admin-guide.md).
# FastAPI's own OpenTelemetry asks the global providers whether they are configured on
# every request (3 % of a small kept answer's CPU) unless all three signals are off.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class MediaNestAPI(FastAPI):
    """FastAPI with the error answers' schemas in its OpenAPI document (core/envelope.py)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()  # kept by FastAPI as `openapi_schema`
        document.setdefault("components", {}).setdefault("schemas", {}).update(error_schemas())
        return document


class MediaNestApp:
    """The ASGI app; `.fastapi` is the FastAPI instance (routes, state, lifespan)."""

    def __init__(self, fastapi_app: FastAPI, realtime: Realtime) -> None:
        self.fastapi = fastapi_app
        self.realtime = realtime
        sockets = socketio.ASGIApp(
            realtime.sio, other_asgi_app=fastapi_app, socketio_path="socket.io"
        )
        settings: Settings = fastapi_app.state.settings
        self._asgi = RequestContextMiddleware(
            BodyLimitMiddleware(
                compressed(ConditionalGetMiddleware(sockets)),
                max_bytes=settings.max_request_body_bytes,
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.fastapi.state.ctx
        return ctx


def _background_starters(settings: Settings, *, housekeeping: bool) -> list[BackgroundStarter]:
    """Domain packages add their background parts here (explicit, in start order)."""
    # What answers depend on: other instances' sign-outs and table changes.
    starters: list[BackgroundStarter] = [start_session_invalidation, start_change_relay]
    if housekeeping:
        starters += [
            start_status_monitor,
            plex_access.start_audience_sweep,
            start_expired_purge,
            start_socket_recheck,
            media_sync.reconciler_starter(settings.request_sync_interval_seconds),
        ]
    if settings.run_notification_worker:
        starters.append(notification_delivery.start_in_process)
    if settings.run_worker_in_process:
        starters += [youtube_worker.start_in_process, youtube_scheduler.start_in_process]
    elif housekeeping:
        starters.append(youtube_heartbeat.start_health_check)
    return starters


def subscribe_to_events(bus: EventBus = process_bus) -> None:
    """Before anything can publish a domain event (`core/events.py`): the features that
    act on other features' events (again changes nothing)."""
    notification_subscribers.subscribe(bus)
    youtube_subscribers.subscribe(bus)
    bus.subscribe(ServicesChanged, _plex_reachable_again)


async def _plex_reachable_again(session: AsyncSession, event: ServicesChanged) -> None:
    """The status monitor saw Plex answer again: the YouTube work Plex being down left
    waiting (deliveries, content ratings) is due now, in the monitor's transaction, so
    every download worker of every process finds it at its next turn. Here because the
    dashboard is above the downloads: neither imports the other."""
    if event.came_online("plex"):
        await youtube_subscribers.plex_reachable_again(session)


async def _migrate(settings: Settings) -> None:
    """To the head, one process at a time (db/migration_lock.py)."""
    timeout = settings.migration_lock_timeout_seconds
    await migrate.upgrade_if_needed(settings.resolved_database_url, lock_timeout=timeout)


async def build_context(
    settings: Settings,
    realtime: Realtime,
    *,
    run_migrations: bool,
    engine: AsyncEngine | None = None,
) -> AppContext:
    subscribe_to_events()
    protect_data_dir(settings.data_dir, download_root=settings.resolved_download_root)
    protect_sqlite_files(settings.resolved_database_url)
    secrets = load_app_secrets(settings)
    if run_migrations:
        await _migrate(settings)
    engine = engine or create_engine(
        settings.resolved_database_url, pool_timeout=settings.database_pool_timeout_seconds
    )
    redis: Redis | None = None
    cache: Cache = MemoryCache()
    closers: list[Callable[[], Awaitable[None]]] = []
    # One health for the process's Redis on request paths: after a call fails or times
    # out, the cache and the rate limits skip it until it answers (core/redis_guard.py).
    redis_guard = RedisGuard()
    if settings.redis_url:
        # Imported here, with Redis configured: a process without it never loads redis.
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        cache_redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        realtime.share_redis_guard(redis_guard := RedisGuard(ping=cache_redis.ping))
        closers += [redis_guard.aclose, cache_redis.aclose]
        cache = RedisCache(cache_redis, guard=redis_guard)
    core = CoreContext(
        settings=settings,
        secrets=secrets,
        engine=engine,
        session_factory=create_session_factory(engine),
        secret_box=SecretBox(secrets.encryption_key, secrets.previous_encryption_keys),
        cache=cache,
        rate_limiter=RateLimiter(settings.redis_url, guard=redis_guard),
        realtime=realtime,
        redis=redis,
        instance_id=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
        closers=closers,
    )
    async with session_scope(core.session_factory) as session:
        await auth_service.ensure_bootstrap_admin(session, settings=settings)
    # Before any background starter: monitors and workers use the clients and limits.
    integrations = await service_store.start_integrations(core)
    closers.append(integrations.aclose)
    ctx = AppContext.extending(
        core, integrations=integrations, limits=await limits_store.read_runtime_config(core)
    )
    limits_store.keep_runtime_limits_fresh(ctx)
    install_socket_authenticator(ctx)
    return ctx


async def close_context(ctx: AppContext) -> None:
    for closer in ctx.closers:
        await closer()
    if ctx.redis is not None:
        await ctx.redis.aclose()
    await dispose_engine(ctx.engine)  # bounded: a silent database host must not hold the stop


async def _look_after_the_process(
    stack: AsyncExitStack, settings: Settings, *, freeze_heap: bool, watch_loop: bool
) -> None:
    """What a long-running server does for its own process once it has started (the
    stops go on `stack`)."""
    if freeze_heap:
        gc.collect()
        gc.freeze()
        stack.push_async_callback(await start_trimming())
    if watch_loop and settings.event_loop_blocked_ms > 0:
        stack.push_async_callback(await start_watching(settings.event_loop_blocked_ms))


def create_app(
    settings: Settings,
    *,
    run_migrations: bool = True,
    freeze_heap: bool = False,
    watch_loop: bool = False,
    housekeeping: bool = True,
    engine: AsyncEngine | None = None,
) -> MediaNestApp:
    """The ASGI app. `freeze_heap` (a long-running server, not tests that start many
    apps): everything alive after start-up kept out of full collections (the stall they
    caused: docs/performance.md), freed memory handed back now and then (core/heap.py).
    `watch_loop`: what holds the event loop too long is named (core/loop_watch.py).
    `housekeeping=False`: no periodic parts (status monitor, Plex audience sweep, session
    purge, socket re-check, request sync, worker health check), for the tests of everything else.
    `engine`: the settings' database engine, kept by the caller from one app to the next
    (the app closes its connections at stop; the engine keeps its dialect set-up and
    compiled statements: the tests start thousands of apps)."""
    realtime = Realtime(settings.redis_url, public_url=settings.public_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        ctx = await build_context(settings, realtime, run_migrations=run_migrations, engine=engine)
        app.state.ctx = ctx
        async with AsyncExitStack() as stack:
            stack.callback(request_log.flush)  # last: the lines of the final requests
            stack.push_async_callback(close_context, ctx)
            stack.push_async_callback(realtime.stop)
            for starter in _background_starters(settings, housekeeping=housekeeping):
                stop = await starter(ctx)
                stack.push_async_callback(stop)
            log.info(
                "medianest_started",
                version=__version__,
                database="sqlite" if settings.is_sqlite else "postgresql",
                redis=bool(settings.redis_url),
            )
            await _look_after_the_process(
                stack, settings, freeze_heap=freeze_heap, watch_loop=watch_loop
            )
            yield {}

    fastapi_app = MediaNestAPI(
        title="MediaNest",
        version=__version__,
        description="One sign-in for a household's media services.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    fastapi_app.state.settings = settings
    add_exception_handlers(fastapi_app)
    install_subject_of(fastapi_app, auth_identity.subject_of)
    fastapi_app.router.routes.extend(_route_table())
    fastapi_app.router.routes.insert(0, RouteIndex(fastapi_app.router.routes))
    install_pages(fastapi_app)
    return MediaNestApp(fastapi_app, realtime)
