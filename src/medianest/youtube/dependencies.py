"""Lookups with ownership checks: a download that is not the caller's does not exist (404);
admins reach every user's download (their changes to another's are audited by the service)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from medianest.auth.dependencies import CurrentUser
from medianest.core.deps import SessionDep
from medianest.core.errors import NotFound
from medianest.youtube.models import YoutubeDownload


async def owned_download(
    download_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> YoutubeDownload:
    job = await session.get(YoutubeDownload, download_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        # Same answer for "absent" and "someone else's": ids do not leak.
        raise NotFound("No such download.", details={"downloadId": str(download_id)})
    return job


OwnedDownload = Annotated[YoutubeDownload, Depends(owned_download)]
