"""YouTube downloads subscribe to the events of the domains below them here;
`app.build_context` calls `subscribe` when it composes the app."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.events import PlexSharesChanged
from medianest.core.events import EventBus
from medianest.core.events import bus as process_bus
from medianest.youtube.jobs import due_claim, redelivery, rerating

# Every kind of work that waits for Plex (due_claim.py): Plex seen back makes each due.
DUE_ON_PLEX = (redelivery.DUE, rerating.DUE)


async def _shares_changed(session: AsyncSession, event: PlexSharesChanged) -> None:
    """A library may be shared now: every pending delivery is due (in the sweep's
    transaction; the workers find them at their next turn)."""
    await redelivery.mark_due(session)


async def plex_reachable_again(session: AsyncSession) -> int:
    """Plex answers again (the dashboard's status monitor saw it; the composition calls
    this in the monitor's transaction): what waits for Plex after an outage is due now,
    so every download worker of every process finds it at its next turn; how many."""
    marked = 0
    for kind in DUE_ON_PLEX:
        marked += await due_claim.mark_outage_due(session, kind)
    return marked


def subscribe(bus: EventBus = process_bus) -> None:
    """Subscribe the downloads to the events they act on (again changes nothing)."""
    bus.subscribe(PlexSharesChanged, _shares_changed)
