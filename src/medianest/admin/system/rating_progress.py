"""The admin's view of a content-rating round: how many delivered downloads have been
given the new rating (youtube/jobs/rerating.py), for the API and the Plex panel."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.envelope import ApiModel
from medianest.youtube.jobs import rerating


class RatingProgressInfo(ApiModel):
    rating: str | None = Field(description="The rating being given")
    total: int = Field(description="Delivered downloads the last change of the rating marked")
    done: int = Field(description="Of those, how many have it (or are gone from Plex)")
    waiting_until: datetime | None = Field(
        description="Plex failed: the ones left are tried again then"
    )


async def rating_progress(session: AsyncSession) -> RatingProgressInfo | None:
    """The round under way; None when every delivered download has the rating."""
    found = await rerating.progress(session)
    if found is None:
        return None
    return RatingProgressInfo(
        rating=found.rating, total=found.total, done=found.done, waiting_until=found.waiting_until
    )
