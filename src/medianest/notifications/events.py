"""The events MediaNest notifies about: their names, who may receive them, and the words
shown to a person choosing them. A `{service}` in the words is that service's name here
(`worded`: a Seerr, a renamed Overseerr; the pages' `with_service_names` filter)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class EventKind:
    name: str
    label: str
    admin_only: bool = False


_ALL = (
    EventKind("request.approved", "A request of mine was approved"),
    EventKind("request.declined", "A request of mine was declined"),
    EventKind("request.available", "A request of mine is available in Plex"),
    EventKind("request.failed", "A request of mine failed"),
    EventKind("request.removed", "A request of mine was removed in {overseerr}"),
    EventKind("download.finished", "A YouTube download finished"),
    EventKind("download.failed", "A YouTube download failed"),
    EventKind("subscription.new_videos", "A subscription found new videos"),
    EventKind("quota.nearly_used", "My weekly quota is nearly used"),
    EventKind("digest", "The recently-added digest"),
    EventKind("service.down", "A service went down", admin_only=True),
    EventKind("service.up", "A service is back", admin_only=True),
    EventKind("youtube.breaker_opened", "YouTube started refusing downloads", admin_only=True),
    EventKind("youtube.breaker_closed", "YouTube downloads resumed", admin_only=True),
    EventKind("ytdlp.outdated", "yt-dlp is out of date (old, or a site changed)", admin_only=True),
    EventKind(
        "ytdlp.js_challenge", "YouTube's JavaScript challenges are not solved", admin_only=True
    ),
    EventKind("signin.refused", "A Plex account was refused at sign-in", admin_only=True),
    EventKind("backup.failed", "A backup failed", admin_only=True),
    EventKind("test", "Test message"),
)

EVENTS: dict[str, EventKind] = {kind.name: kind for kind in _ALL}
# What a person may choose for a channel ("test" is sent on demand, never chosen).
CHOOSABLE = tuple(name for name in EVENTS if name != "test")
USER_EVENTS = tuple(name for name in CHOOSABLE if not EVENTS[name].admin_only)


def choosable_for(*, is_admin: bool) -> tuple[str, ...]:
    return CHOOSABLE if is_admin else USER_EVENTS


_SERVICE = re.compile(r"\{(overseerr)\}")


def worded(label: str, name_of: Callable[[str], str]) -> str:
    """`label` with each `{service}` in it replaced by `name_of(service)`."""
    return _SERVICE.sub(lambda found: name_of(found[1]), label)
