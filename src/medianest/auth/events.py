"""What sign-in tells the rest of MediaNest (published with `core.events.publish`)."""

from __future__ import annotations

from dataclasses import dataclass

from medianest.core.events import DomainEvent


@dataclass(frozen=True)
class SignInRefused(DomainEvent):
    """A Plex account was refused at sign-in; `reason` is the refusal's code."""

    reason: str


@dataclass(frozen=True)
class PlexSharesChanged(DomainEvent):
    """The owner changed who gets which Plex libraries (plex.tv `shared_servers`, read by
    the audience sweep); also at the first read after a start or a new Plex server.
    What waited for a share (a download's delivery) may be possible now."""
