"""Admin system API: the run-time limits and defaults; the yt-dlp version and age, the
download queue and its breaker; and the YouTube settings the admin sets (quotas per
role, default Plex delivery, the content rating given to downloaded videos).

yt-dlp must keep up with YouTube: a release older than 60 days usually means
downloads start failing, so the answer carries a warning then.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import func, select

from medianest.admin.dependencies import ActingAdmin, ManagedUser
from medianest.admin.schemas import RuntimeConfigOut
from medianest.admin.system import config as system_config
from medianest.admin.system.rating_progress import rating_progress
from medianest.admin.system.schemas import (
    BreakerInfo,
    PlexDownloadsInfo,
    PlexLibraryInfo,
    PlexTestIn,
    PlexTestOut,
    QueueInfo,
    RedeliverOut,
    SystemInfo,
    UndeliveredInfo,
    YoutubeConfig,
    YoutubeConfigUpdate,
    ytdlp_info,
)
from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope
from medianest.limits import quotas
from medianest.limits import store as limits_store
from medianest.limits.runtime import RuntimeConfigUpdate
from medianest.platform import audit
from medianest.plex import paths as plex_paths
from medianest.settings import Settings
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.delivery import check as plex_check
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import private as delivery
from medianest.youtube.delivery import ratings, visibility
from medianest.youtube.downloads import files
from medianest.youtube.jobs import pushback, redelivery
from medianest.youtube.models import YoutubeDownload, YoutubeSubscription
from medianest.youtube.ytdlp import freshness, js_solver

router = api_router(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/system", response_model=Envelope[SystemInfo])
async def system_info(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[SystemInfo]:
    """yt-dlp's version and whether it is out of date, the download queue and its breaker."""
    return await _system_info(session, ctx, await js_solver.configured_status(ctx.settings))


async def _system_info(
    session: SessionDep, ctx: ContextDep, solver: js_solver.SolverStatus
) -> Envelope[SystemInfo]:
    breaker = await pushback.current(session)
    counts = dict(
        (status, int(n))
        for status, n in await session.execute(
            select(YoutubeDownload.status, func.count()).group_by(YoutubeDownload.status)
        )
    )
    paused_rows = await session.execute(
        select(YoutubeDownload.pause_reason, func.count())
        .where(YoutubeDownload.status == "queued", YoutubeDownload.pause_reason.is_not(None))
        .group_by(YoutubeDownload.pause_reason)
    )
    total_subscriptions = await session.scalar(
        select(func.count()).select_from(YoutubeSubscription)
    )
    return envelope(
        SystemInfo(
            yt_dlp=ytdlp_info(await freshness.current(session), solver),
            queue_breaker=BreakerInfo(
                state="open" if breaker.open else "closed",
                until=breaker.until if breaker.open else None,
                opened_at=breaker.opened_at,
                reason=breaker.reason,
                openings_in_a_row=breaker.openings,
                recent_errors=breaker.recent_errors,
                recent_error_kinds=breaker.counts,
                advice=pushback.advice(breaker, await youtube_cookies.cookies_status(session)),
            ),
            queue=QueueInfo(
                queued=counts.get("queued", 0),
                running=counts.get("downloading", 0) + counts.get("processing", 0),
                paused={str(reason): int(n) for reason, n in paused_rows},
                subscriptions=int(total_subscriptions or 0),
                download_group_problem=files.group_problem(ctx.settings.download_gid),
            ),
        )
    )


@router.post("/system/queue-breaker/close", response_model=Envelope[SystemInfo])
async def close_breaker(
    admin: AdminUser, session: SessionDep, ctx: ContextDep, request: Request
) -> Envelope[SystemInfo]:
    """Resume downloads now instead of waiting for the backoff to pass."""
    # Before the write: it runs the JS runtime's `--version` (up to 15 s when it hangs),
    # and on SQLite every other writer of the app waited for the close's write lock.
    solver = await js_solver.configured_status(ctx.settings)
    await pushback.close(session)
    audit.record(
        session,
        action="youtube.queue_breaker.close",
        actor_id=admin.id,
        target="youtube_queue",
        ip=client_ip(request, ctx.settings),
    )
    await session.flush()
    return await _system_info(session, ctx, solver)


async def _youtube_config(session: SessionDep, settings: Settings) -> YoutubeConfig:
    paths = await plex_paths.load_path_map(session, settings=settings)
    return YoutubeConfig(
        default_delivery=await delivery.default_delivery(session),
        quotas=await quotas.load_config(session),
        plex_path=await plex_paths.stored_plex_path(session),
        plex_path_in_use=str(paths.plex_root),
        content_rating=await ratings.load(session),
        content_rating_progress=await rating_progress(session),
    )


@router.get("/config/youtube", response_model=Envelope[YoutubeConfig])
async def get_youtube_config(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[YoutubeConfig]:
    """Quotas per role (null = unlimited), the default Plex delivery of downloads and the
    download root as Plex sees it."""
    return envelope(await _youtube_config(session, ctx.settings))


@router.put("/config/youtube", response_model=Envelope[YoutubeConfig])
async def update_youtube_config(
    body: YoutubeConfigUpdate,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    request: Request,
) -> Envelope[YoutubeConfig]:
    """Change the quotas (a role given replaces that role's limits), the default delivery,
    the Plex path of downloads or the content rating given to downloaded videos."""
    if body.default_delivery is not None:
        await delivery.set_default_delivery(session, body.default_delivery)
    if body.plex_path is not None:
        await plex_paths.set_plex_path(session, body.plex_path)
    if body.content_rating is not None:
        await redelivery.set_content_rating(session, ctx=ctx, value=body.content_rating)
    if body.quotas is not None:
        merged = await quotas.load_config(session)
        for role in body.quotas.model_fields_set:  # roles left out keep their limits
            setattr(merged, role, getattr(body.quotas, role))
        await quotas.save_config(session, merged)
    audit.record(
        session,
        action="youtube.config.update",
        actor_id=admin.id,
        target="youtube_config",
        details=body.model_dump(mode="json", exclude_none=True, by_alias=True),
        ip=client_ip(request, ctx.settings),
    )
    await session.flush()
    return envelope(await _youtube_config(session, ctx.settings))


@router.get("/youtube/plex", response_model=Envelope[PlexDownloadsInfo])
async def plex_downloads_info(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[PlexDownloadsInfo]:
    """Plex's libraries with their folders: which one holds the downloads, or why none."""
    paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    plex = await plex_check.require_plex(ctx.integrations)
    view = await plex_check.plex_view(plex, paths)
    library, not_shared = await visibility.admin_view(ctx, plex, view.holding)
    return envelope(
        PlexDownloadsInfo(
            plex_path=view.plex_path,
            translated=view.translated,
            libraries=[PlexLibraryInfo(**vars(lib)) for lib in view.libraries],
            holding_library_id=view.holding,
            problem=view.problem,
            delivery_library=library,
            not_shared_with=not_shared,
            undelivered=[UndeliveredInfo(**vars(u)) for u in await redelivery.undelivered(session)],
        )
    )


@router.post(
    "/youtube/plex/redeliver/{user_id}", response_model=Envelope[RedeliverOut], status_code=202
)
async def redeliver(
    user: ManagedUser, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Envelope[RedeliverOut]:
    """Deliver the user's completed downloads that are not in Plex yet again, now (the
    download workers take them at once; each is delivered once)."""
    marked = await redelivery.deliver_again(session, ctx=ctx, user=user, by=admin)
    return envelope(RedeliverOut(downloads=marked))


@router.post("/youtube/plex/test", response_model=Envelope[PlexTestOut])
async def test_plex_path(
    body: PlexTestIn, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[PlexTestOut]:
    """Drop a marker video into the download root, ask Plex to scan it, say if it was found
    (with `plexPath`, a path not saved yet)."""
    paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    if body.plex_path is not None and body.plex_path.strip():
        checked = plex_paths.check_plex_path(body.plex_path)
        paths = plex_paths.PathMap.of(ctx.settings.resolved_download_root, checked)
    result = await plex_check.test_marker(
        await plex_check.require_plex(ctx.integrations),
        paths,
        settings=ctx.settings,
        configured_section=plex_delivery.configured_section(ctx.settings, ctx.integrations),
    )
    return envelope(PlexTestOut(**vars(result)))


@router.get("/config", response_model=Envelope[RuntimeConfigOut])
async def get_config(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Envelope[RuntimeConfigOut]:
    """Run-time limits and defaults (settings' values unless an admin changed them)."""
    limits = await limits_store.load_runtime_config(session, settings=ctx.settings)
    return envelope(system_config.runtime_config_out(limits))


@router.put("/config", response_model=Envelope[RuntimeConfigOut])
async def update_config(
    body: RuntimeConfigUpdate, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Envelope[RuntimeConfigOut]:
    """Change run-time limits; fields left out keep their value. Applies at once."""
    limits = await system_config.save_runtime_config(session, ctx=ctx, changes=body, by=admin)
    return envelope(system_config.runtime_config_out(limits))
