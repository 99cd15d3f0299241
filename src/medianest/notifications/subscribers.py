"""Notifications subscribe to the domains' events here; `app.build_context` calls
`subscribe` when it composes the app (the domains never import notifications)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.events import SignInRefused
from medianest.core.events import EventBus
from medianest.core.events import bus as process_bus
from medianest.dashboard.events import ServicesChanged
from medianest.media.events import RequestCreated, RequestStatusesChanged
from medianest.notifications import hooks
from medianest.youtube.events import (
    ChallengesUnsolved,
    DownloadEnded,
    DownloaderBroke,
    QueueBreakerChanged,
    SubscriptionFoundVideos,
)


async def _sign_in_refused(session: AsyncSession, event: SignInRefused) -> None:
    await hooks.sign_in_refused(session, reason=event.reason)


async def _requests_changed(session: AsyncSession, event: RequestStatusesChanged) -> None:
    await hooks.requests_changed(session, event.changes, service_name=event.service_name)


async def _request_created(session: AsyncSession, event: RequestCreated) -> None:
    await hooks.quota_nearly_used(session, user_id=event.user_id)


async def _download_ended(session: AsyncSession, event: DownloadEnded) -> None:
    await hooks.download_finished(session, download_id=event.download_id)


async def _subscription_found(session: AsyncSession, event: SubscriptionFoundVideos) -> None:
    await hooks.subscription_found(session, subscription=event.subscription, count=event.count)


async def _breaker_changed(session: AsyncSession, event: QueueBreakerChanged) -> None:
    await hooks.breaker_changed(
        session, opened=event.opened, opened_at=event.opened_at, reason=event.reason
    )


async def _downloader_broke(session: AsyncSession, event: DownloaderBroke) -> None:
    await hooks.ytdlp_broke(session, version=event.version, host=event.host)


async def _challenges_unsolved(session: AsyncSession, event: ChallengesUnsolved) -> None:
    await hooks.ytdlp_challenges_unsolved(session, problem=event.problem)


async def _services_changed(session: AsyncSession, event: ServicesChanged) -> None:
    await hooks.services_changed(session, before=event.before, after=event.after, names=event.names)


def subscribe(bus: EventBus = process_bus) -> None:
    """Subscribe every notification to its event (again changes nothing)."""
    bus.subscribe(SignInRefused, _sign_in_refused)
    bus.subscribe(RequestStatusesChanged, _requests_changed)
    bus.subscribe(RequestCreated, _request_created)
    bus.subscribe(DownloadEnded, _download_ended)
    bus.subscribe(SubscriptionFoundVideos, _subscription_found)
    bus.subscribe(QueueBreakerChanged, _breaker_changed)
    bus.subscribe(ServicesChanged, _services_changed)
    bus.subscribe(DownloaderBroke, _downloader_broke)
    bus.subscribe(ChallengesUnsolved, _challenges_unsolved)
