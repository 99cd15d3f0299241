"""What YouTube downloads tell the rest of MediaNest (published with `core.events.publish`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from medianest.core.events import DomainEvent
from medianest.youtube.models import YoutubeSubscription


@dataclass(frozen=True)
class DownloadEnded(DomainEvent):
    """A download reached a final status: completed, or failed for good."""

    download_id: uuid.UUID


@dataclass(frozen=True)
class SubscriptionFoundVideos(DomainEvent):
    """A subscription's check queued `count` new videos (may be 0)."""

    subscription: YoutubeSubscription
    count: int


@dataclass(frozen=True)
class QueueBreakerChanged(DomainEvent):
    """The queue breaker opened (downloads paused) or closed (they resume)."""

    opened: bool
    opened_at: str | None
    reason: str | None = None


@dataclass(frozen=True)
class DownloaderBroke(DomainEvent):
    """yt-dlp `version` said it could not read a page of `host` and may be out of date
    (published the first time for a version: youtube/ytdlp/freshness.py)."""

    version: str
    host: str


@dataclass(frozen=True)
class ChallengesUnsolved(DomainEvent):
    """Items fail because YouTube's JavaScript challenge went unsolved; `problem` says
    why and the fix (published once per failing solver: youtube/ytdlp/challenge_notice.py)."""

    problem: str
