"""Errors of the sign-in flows that need their own codes."""

from __future__ import annotations

from medianest.core.errors import MediaNestError, NotFound, PermissionDenied


class PinNotFound(NotFound):
    code = "PIN_NOT_FOUND"
    default_message = "No such sign-in PIN for this browser. Start the sign-in again."


class PinExpired(MediaNestError):
    status_code = 410
    keeps_writes = True  # the PIN is forgotten (a PIN's end is final)
    code = "PIN_EXPIRED"
    default_message = "The sign-in PIN expired before it was approved. Start the sign-in again."


class PinDeclined(MediaNestError):
    status_code = 410
    keeps_writes = True
    code = "PIN_DECLINED"
    default_message = (
        "The sign-in was declined or cancelled at plex.tv. Start the sign-in again to retry."
    )


class PlexServerAccessRequired(PermissionDenied):
    code = "PLEX_SERVER_ACCESS_REQUIRED"
    default_message = (
        "This Plex account is not one of this Plex server's users, so it cannot sign in "
        "here. Ask the server's owner to share the server with you (or to add your Plex "
        "username to MediaNest's sign-in list), then sign in again."
    )


class AccountDisabled(PermissionDenied):
    code = "ACCOUNT_DISABLED"
    default_message = "This account is disabled."
