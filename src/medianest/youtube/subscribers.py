"""YouTube downloads subscribe to the events of the domains below them here;
`app.build_context` calls `subscribe` when it composes the app."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.events import PlexSharesChanged
from medianest.core.events import EventBus
from medianest.core.events import bus as process_bus
from medianest.youtube.jobs import redelivery


async def _shares_changed(session: AsyncSession, event: PlexSharesChanged) -> None:
    """A library may be shared now: every pending delivery is due (in the sweep's
    transaction; the workers find them at their next turn)."""
    await redelivery.mark_due(session)


def subscribe(bus: EventBus = process_bus) -> None:
    """Subscribe the downloads to the events they act on (again changes nothing)."""
    bus.subscribe(PlexSharesChanged, _shares_changed)
