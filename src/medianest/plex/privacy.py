"""Who sees what of the Plex library in MediaNest: nobody sees another user's YouTube
downloads (items, collections made of them, their images); admins see everything.

Which libraries a user sees is Plex's decision: they browse with their own token for
the server (`access.browsing_client`). The downloads rule is MediaNest's, on top: the
YouTube library is usually shared with everyone, so it is applied here, from where a
file lies: `{download root as Plex sees it}/{user id}/...` belongs to that user
(translated through the same `PathMap` as the delivery).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from medianest.integrations.plex_models import PlexItem, PlexSection
from medianest.plex.paths import PathMap, plex_within


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as the Plex pages see them."""

    user_id: uuid.UUID
    sees_everything: bool
    paths: PathMap
    # Called when Plex refuses the viewer's own token (their share was removed).
    token_refused: Callable[[], Awaitable[None]] | None = None

    def may_see(self, item: PlexItem) -> bool:
        """False when any file of `item` lies in another user's download folder."""
        if self.sees_everything:
            return True
        return all(self.paths.owner_of(f) in (None, self.user_id) for f in item.files)

    def filters(self, section: PlexSection | None) -> bool:
        """Whether a library may hold downloads (its folder and the download root overlap):
        only those are filtered, and paged by MediaNest instead of Plex."""
        if self.sees_everything or section is None:
            return False
        root = str(self.paths.plex_root)
        return any(
            plex_within(root, location.path) or plex_within(location.path, root)
            for location in section.locations
        )
