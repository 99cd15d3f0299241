"""`GET /metrics`: Prometheus text format, behind a bearer token or, without one, for
loopback clients only.

Counters and histograms are updated as things happen (requests, upstream calls);
the gauges that describe current state (queue depth, active downloads, sessions,
sockets) are computed at scrape time with two cheap COUNT queries.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from medianest.auth.cookies import client_ip
from medianest.auth.models import AuthSession
from medianest.context import AppContext, ContextDep
from medianest.core.deps import api_router
from medianest.core.errors import PermissionDenied, Unauthenticated
from medianest.core.logging import get_logger
from medianest.core.metrics import (
    DOWNLOADS_ACTIVE,
    DOWNLOADS_QUEUED,
    SESSIONS_ACTIVE,
    SOCKETS_CONNECTED,
    registry,
)
from medianest.db.base import utcnow
from medianest.youtube.models import DownloadStatus, YoutubeDownload

router = api_router(tags=["operations"])
log = get_logger(__name__)

_ACTIVE_DOWNLOAD_STATES = (DownloadStatus.DOWNLOADING, DownloadStatus.PROCESSING)


def _check_token(request: Request, ctx: AppContext) -> None:
    """With a token configured, the token; without one, only this machine may scrape
    (the client address seen through trusted proxies: a request relayed by a local nginx
    from elsewhere is not local)."""
    expected = ctx.settings.metrics_token
    if expected is None:
        if not _is_loopback(client_ip(request, ctx.settings)):
            raise PermissionDenied(
                "Metrics are served to this machine only; set MEDIANEST_METRICS_TOKEN "
                "to scrape them from elsewhere.",
                details={"reason": "metrics_loopback_only"},
            )
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest on bytes: constant time, so the token cannot be guessed byte by byte.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.get_secret_value().encode()
    ):
        raise Unauthenticated("A valid metrics token is required.")


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _refresh_state_gauges(ctx: AppContext) -> None:
    SOCKETS_CONNECTED.set(ctx.realtime.connected)
    now = utcnow()
    idle_cutoff = now - timedelta(minutes=ctx.settings.session_idle_minutes)
    try:
        async with ctx.session_factory() as session:
            by_status = dict(
                (
                    await session.execute(
                        select(YoutubeDownload.status, func.count())
                        .where(
                            YoutubeDownload.status.in_(
                                (DownloadStatus.QUEUED, *_ACTIVE_DOWNLOAD_STATES)
                            )
                        )
                        .group_by(YoutubeDownload.status)
                    )
                )
                .tuples()
                .all()
            )
            sessions = await session.scalar(
                select(func.count())
                .select_from(AuthSession)
                .where(AuthSession.expires_at > now, AuthSession.last_seen_at > idle_cutoff)
            )
    except (SQLAlchemyError, OSError) as exc:
        # A scrape must still answer when the database is down; the gauges keep their values.
        log.warning("metrics_state_unavailable", error=type(exc).__name__)
        return
    DOWNLOADS_QUEUED.set(by_status.get(DownloadStatus.QUEUED, 0))
    DOWNLOADS_ACTIVE.set(sum(by_status.get(state, 0) for state in _ACTIVE_DOWNLOAD_STATES))
    SESSIONS_ACTIVE.set(sessions or 0)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, ctx: ContextDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    _check_token(request, ctx)
    await _refresh_state_gauges(ctx)
    # Loaded by the first scrape: a server nobody scrapes never loads it (core/metrics.py).
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
