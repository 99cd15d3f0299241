"""What sign-in tells the rest of MediaNest (published with `core.events.publish`)."""

from __future__ import annotations

from dataclasses import dataclass

from medianest.core.events import DomainEvent


@dataclass(frozen=True)
class SignInRefused(DomainEvent):
    """A Plex account was refused at sign-in; `reason` is the refusal's code."""

    reason: str
