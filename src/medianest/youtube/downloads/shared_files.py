"""The files a download may share with another: the same playlist downloaded again
writes into the same folder under the same names, so a deleted download's files go only
when no other record refers to them. One rule for both places that remove them: the
deleting request (downloads/service.py) and the worker of a download deleted while it
ran (jobs/runner.py), which alone knows what it wrote since."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.logging import get_logger
from medianest.youtube.downloads import files
from medianest.youtube.models import JobItem, YoutubeDownload

log = get_logger(__name__)


async def stems_of_others(
    session: AsyncSession,
    folder: str,
    download_id: uuid.UUID,
    *,
    besides: Collection[uuid.UUID] = (),
) -> set[str]:
    """The item files other download records in `folder` refer to (`besides`: records
    being deleted with this one, whose files are not kept for them)."""
    others = await session.scalars(
        select(YoutubeDownload.items).where(
            YoutubeDownload.folder == folder,
            YoutubeDownload.id.not_in([download_id, *besides]),
        )
    )
    return {files.stem_for(item) for items in others for item in items}


def remove_unreferenced(
    root: Path,
    *,
    download_id: uuid.UUID,
    user_id: uuid.UUID,
    folder: Path,
    items: Iterable[JobItem],
    still_referenced: set[str],
) -> bool:
    """Remove the files of `items` that no other record refers to, and the folder once
    empty; whether a file was there to remove."""
    if not files.is_within(folder.resolve(), files.user_dir(root, user_id).resolve()):
        log.warning("youtube_folder_outside_user_dir", download_id=str(download_id))
        return False
    stems = [files.stem_for(item) for item in items]
    removed = [files.remove_item_files(folder, s) for s in stems if s not in still_referenced]
    files.remove_dir_if_empty(folder)
    return any(removed)


async def delete_files(
    session: AsyncSession, root: Path, job: YoutubeDownload, gone: set[uuid.UUID]
) -> None:
    """Remove the job's files that no other download record refers to: the same
    playlist downloaded twice shares its folder and file names, and deleting one record
    must not take the other's files (the folder goes once nothing is left in it)."""
    if job.folder:
        remove_files_of(root, job, await stems_of_others_of(session, job, gone))


async def stems_of_others_of(
    session: AsyncSession, job: YoutubeDownload, gone: set[uuid.UUID]
) -> set[str]:
    return await stems_of_others(session, job.folder or "", job.id, besides=gone)


def remove_files_of(root: Path, job: YoutubeDownload, still_referenced: set[str]) -> bool:
    """Whether a file was there to remove."""
    return remove_unreferenced(
        root,
        download_id=job.id,
        user_id=job.user_id,
        folder=Path(job.folder or ""),
        items=job.items,
        still_referenced=still_referenced,
    )
