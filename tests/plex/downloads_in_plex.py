"""Alice's and bob's YouTube downloads as Plex lists them: real files in each user's
folder of the simulator's YouTube library, scanned, and a collection per playlist (one
collection shared by both). Used by the privacy tests and the access matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medianest.auth.models import User
from medianest_simulators import PlexSimulator
from medianest_simulators.plex_library import YOUTUBE_SECTION, Collection

ALICE_TITLE = "001 - Alice Secret Holiday"
BOB_TITLE = "001 - Bob Song"


@dataclass(frozen=True)
class Downloads:
    alice_item: int
    bob_item: int
    alice_collection: int
    bob_collection: int
    shared_collection: int


def place_downloads(plex: PlexSimulator, alice: User, bob: User) -> Downloads:
    """Write one file per user under the YouTube library, scan it, make the collections."""
    root = Path(plex.youtube_dir)
    for user, playlist, title in ((alice, "Alice Mix", ALICE_TITLE), (bob, "Bob Mix", BOB_TITLE)):
        folder = root / str(user.id) / playlist
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{title}.mp4").write_bytes(b"\x00" * 64)
    plex.scan(YOUTUBE_SECTION)
    with plex.lock:
        library = plex.library
        keys = {i.title: i.rating_key for i in library.items.values() if i.section_id == 3}
        alice_item, bob_item = keys[ALICE_TITLE], keys[BOB_TITLE]
        made = []
        for title, items in (
            ("Alice Mix", [alice_item]),
            ("Bob Mix", [bob_item]),
            ("Both Of Us", [alice_item, bob_item]),
        ):
            rk = library.new_key()
            library.collections[rk] = Collection(rk, YOUTUBE_SECTION, title, items)
            made.append(rk)
    return Downloads(alice_item, bob_item, *made)
