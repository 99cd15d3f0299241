"""Handing a download's finished items to Plex: the one way, for the worker that just
downloaded them and for a later delivery of what could not be delivered then
(youtube/jobs/redelivery.py).

The items must be in Plex before they can join a collection or a playlist: Plex is asked
to scan the download's folder and its items are found by their file paths
(python-plexapi library.py `LibrarySection.update(path=)`, video.py `locations`), then
added (collection.py `Collection.addItems` and playlist.py `Playlist.addItems`: a PUT of
`/items?uri=.../library/metadata/{keys}`). A user who cannot see the delivery library
gets nothing added and a note instead (`visibility.note_for`). Before they are added, the
items get the admin's content rating for downloaded videos, and a user whose own token
still cannot see them (their account's restrictions) gets a note too (`ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.plex import access as plex_access
from medianest.plex import paths as plex_paths
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import private as delivery
from medianest.youtube.delivery import ratings, visibility
from medianest.youtube.delivery.guard import DownloadGone, DownloadGuard
from medianest.youtube.models import YoutubeDownload

log = get_logger(__name__)

NOT_UPDATED = "Downloaded, but the Plex collection was not updated"


@dataclass(frozen=True)
class Handed:
    """What the hand-off did: the collection it filled (or the one the download had), the
    note when it delivered nothing, and whether the delivery is still to be made
    (`pending`), from `retry_at` on when Plex failed (else at the next change)."""

    collection_id: str | None
    note: str | None = None
    pending: bool = False
    retry_at: datetime | None = None


async def hand_to_plex(
    ctx: AppContext, job: YoutubeDownload, *, folder: Path, title: str, stems: tuple[str, ...]
) -> Handed:
    """Deliver the files `stems` of `folder` as `job`'s delivery says (playlist or
    collection). Plex failing never raises: the answer carries the note."""
    plex = await plex_access.owner_client(ctx.integrations)
    if plex is None or not stems:
        return Handed(job.plex_collection_id)
    try:
        async with ctx.session_factory() as session:
            paths = await plex_paths.load_path_map(session, settings=ctx.settings)
            rating = await ratings.load(session)
        section = await plex_delivery.find_section(
            plex, folder, plex_delivery.configured_section(ctx.settings, ctx.integrations), paths
        )
        unseen = await visibility.note_for(ctx, job.user_id, section)
        if unseen is not None:  # the owner does not share the library with them (yet)
            return Handed(job.plex_collection_id, unseen, pending=True)
        deliver = await delivery.deliverer(ctx, job)  # playlist or collection
        request = plex_delivery.DeliveryRequest(
            section_id=section,
            folder=folder,
            paths=paths,
            title=title,
            file_stems=stems,
            existing_collection=job.plex_collection_id,
            wait_seconds=ctx.settings.plex_scan_wait_seconds,
            guard=DownloadGuard(ctx.session_factory, job.id),
            content_rating=rating,
            viewer=await visibility.viewer_for(ctx, job.user_id),
        )
        delivered = await deliver(plex, request)
    except ratings.Hidden as exc:  # their restrictions hide the items: waits for a change
        return Handed(job.plex_collection_id, str(exc), pending=True)
    except DownloadGone:  # what it made is removed again; the files go after `finish`
        return Handed(None)
    except plex_delivery.DeliveryFailed as exc:
        log.warning("youtube_plex_delivery_failed", download_id=str(job.id))
        # Plex down or failing: tried again once Plex is seen answering, at the latest a
        # sweep's period later. Anything else (no library holds the folder, the files not
        # listed in time) waits for a change.
        outage = isinstance(exc.__cause__, MediaNestError)
        return Handed(
            job.plex_collection_id,
            f"{NOT_UPDATED}: {exc}",
            pending=True,
            retry_at=retry_after_outage(ctx) if outage else None,
        )
    return Handed(delivered.collection_id)


def retry_after_outage(ctx: AppContext) -> datetime:
    """When a delivery Plex failed is tried again at the latest: after one period of the
    audience sweep (`MEDIANEST_PLEX_AUDIENCE_REFRESH_SECONDS`), not in a loop against a
    Plex that is down. A time to come marks the delivery as failed for Plex: the status
    monitor seeing Plex answer again makes it due at once (`due_claim.mark_outage_due`)."""
    return utcnow() + timedelta(seconds=ctx.settings.plex_audience_refresh_seconds)


def stems_of(job: YoutubeDownload) -> tuple[str, ...]:
    """The file names (without suffix) of the job's completed items."""
    return tuple(Path(i.file or "").stem for i in job.items if i.state == "completed")
