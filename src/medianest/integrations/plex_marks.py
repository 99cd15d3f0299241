"""When a Plex client's kept answers may no longer be served, whoever's token read them.

- MediaNest changed the library (a collection, a label, the page's Refresh): answers kept
  from before are re-read on their next use (and served while Plex is down).
- The server's shares changed (plex.tv `/api/servers/{machine}/shared_servers`, read by
  the periodic sweep, `auth/plex_sign_in/share_changes.py`): a shared user's answers kept from before
  are not served at all, not even while Plex is down — a library the owner stopped
  sharing must not stay browsable from MediaNest's cache. The owner's are unaffected.
"""

from __future__ import annotations

import time

from medianest.core.data_changes import MEMORY
from medianest.integrations.http import ResilientClient

MARK_TTL = 7 * 86400.0  # longer than any kept answer (`http.LAST_GOOD_TTL_SECONDS`)


class LibraryMarks:
    """The marks of one Plex server, as read by a client of `cache_scope`."""

    def __init__(self, http: ResilientClient, server: str, *, cache_scope: str) -> None:
        self._http = http
        self._changed_key = f"upstream:plex-changed:{server}"
        self._shares_key = f"upstream:plex-shares-changed:{server}"
        self._shared_user = cache_scope != "owner"

    async def library_changed(self) -> None:
        """Kept library answers from before now are re-read on their next use."""
        await self._mark(self._changed_key)

    async def shares_changed(self) -> None:
        """Shared users' kept answers from before now are never served again."""
        await self._mark(self._shares_key)

    async def read(self) -> tuple[float | None, float | None]:
        """`(changed_at, forget_before)` for `ResilientClient.get_json`."""
        changed = await self._at(self._changed_key)
        shares = await self._at(self._shares_key) if self._shared_user else None
        return max(changed or 0.0, shares or 0.0) or None, shares

    async def _mark(self, key: str) -> None:
        await self._http.cache.set(key, time.time(), MARK_TTL)
        MEMORY.changed({self._http.changes_source})  # answers made from the old data

    async def _at(self, key: str) -> float | None:
        value = await self._http.cache.get(key)
        return float(value) if isinstance(value, (int, float)) else None
