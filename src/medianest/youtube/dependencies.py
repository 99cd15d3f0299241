"""Lookups with ownership checks, shared by the JSON API and the pages: a download or
subscription that is not the caller's does not exist (404); admins reach every user's
download (their changes to another's are audited by the service), but only their own
subscriptions. An unsubscribe (subscription + `deleteFiles`) is read here once for both."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from medianest.auth.dependencies import CurrentUser
from medianest.core.deps import SessionDep
from medianest.core.errors import NotFound
from medianest.youtube.models import YoutubeDownload, YoutubeSubscription
from medianest.youtube.subscriptions.service import Unsubscription


async def owned_download(
    download_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> YoutubeDownload:
    job = await session.get(YoutubeDownload, download_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        # Same answer for "absent" and "someone else's": ids do not leak.
        raise NotFound("No such download.", details={"downloadId": str(download_id)})
    return job


OwnedDownload = Annotated[YoutubeDownload, Depends(owned_download)]


async def owned_subscription(
    subscription_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> YoutubeSubscription:
    row = await session.get(YoutubeSubscription, subscription_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such subscription.", details={"subscriptionId": str(subscription_id)})
    return row


OwnedSubscription = Annotated[YoutubeSubscription, Depends(owned_subscription)]


async def unsubscription(
    row: OwnedSubscription,
    delete_files: Annotated[
        bool, Query(alias="deleteFiles", description="Also delete its downloads")
    ] = False,
) -> Unsubscription:
    return Unsubscription(subscription=row, delete_files=delete_files)


UnsubscriptionDep = Annotated[Unsubscription, Depends(unsubscription)]
