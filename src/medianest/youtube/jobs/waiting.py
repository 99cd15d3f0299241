"""Items that wait for a live stream to end or a premiere to air: never downloaded while
they are live, never failed for it, and tried again by a later run.

- A subscription's download ends (completed, its other items delivered) with the item
  "waiting"; the item is not in the archive, so the subscription's next check lists it
  again and downloads it once it has ended. The job does not stay active, which would hold
  back the subscription's new videos ("the previous check's download is still running").
- A download started by hand delivers what it has, then goes back to the queue (pause
  reason `LIVE`, no attempt spent) and looks again after `recheck_seconds`; items done
  are kept and skipped, as after any pause.
"""

from __future__ import annotations

from medianest.core.logging import get_logger
from medianest.settings import Settings
from medianest.youtube.jobs.progress import JobView
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import DownloadStatus, JobItem, YoutubeDownload
from medianest.youtube.ytdlp.item_checks import WAITING_STATUSES, waiting_message

log = get_logger(__name__)

PAUSE_REASON = "LIVE"
# A live stream is looked at again after this many retry bases (5 minutes by default):
# often enough to fetch it soon after it ends, rarely enough not to poll the site.
RECHECK_BASES = 10


def listed_as_waiting(item: JobItem) -> bool:
    """The playlist itself said the item is live or upcoming (YouTube's flat entries often
    do): it waits without a request for it. Only a new item; a waiting one is looked at."""
    return item.state == "pending" and item.live_status in WAITING_STATUSES


def mark(item: JobItem, live_status: str) -> None:
    item.state, item.live_status, item.note = "waiting", live_status, waiting_message(live_status)
    item.progress, item.error, item.error_kind = 0, None, None


def note(items: list[JobItem]) -> str | None:
    """What the download says about its waiting items, or None."""
    waiting = [i for i in items if i.state == "waiting"]
    if not waiting:
        return None
    if len(waiting) == 1:
        return f"“{waiting[0].title}”: {waiting[0].note or waiting_message('is_live')}"
    return f"{len(waiting)} items are live or not aired yet; they download once they have ended"


def recheck_seconds(settings: Settings) -> float:
    return max(1.0, RECHECK_BASES * settings.download_retry_base_seconds)


async def wait_for_streams(
    queue: JobQueue,
    job: YoutubeDownload,
    view: JobView,
    *,
    settings: Settings,
    plex_collection_id: str | None,
    waiting_note: str,
) -> None:
    """A download started by hand: back to the queue to look at its waiting items later,
    keeping what it has (its items, bytes and Plex collection); `waiting_note` is what
    `note` says of its waiting items."""
    message = f"{waiting_note} (looking again in a while)"
    view.status, view.current = DownloadStatus.QUEUED.value, None
    await queue.heartbeat(
        job.id,
        title=view.title,
        items=view.stored_items(),
        bytes_downloaded=view.bytes_done(),
        plex_collection_id=plex_collection_id,
    )
    await queue.retry_later(
        job.id,
        attempts=job.attempts,
        count_attempt=False,
        pause_reason=PAUSE_REASON,
        error=message,
        delay=recheck_seconds(settings),
    )
    log.info("youtube_job_waits_for_streams", download_id=str(job.id))
