"""The Plex simulator's seeded library: eight open movies, three shows with episodes and
two collections, a Music library (artists, albums, tracks, one collection), a Photos
library (albums, a nested album, photos) and an empty "Home Videos" (Other Videos) one,
plus an empty "YouTube" section filled by scanning a real folder."""

from __future__ import annotations

from medianest_simulators.plex_library import (
    BASE_TIME,
    MOVIES_SECTION,
    MUSIC_SECTION,
    PHOTOS_SECTION,
    SHOWS_SECTION,
    Collection,
    Item,
    Library,
)

SEED_MOVIES: list[tuple[str, int, str, float]] = [
    ("Big Buck Bunny", 2008, "G", 7.4),
    ("Elephants Dream", 2006, "PG", 6.5),
    ("Sintel", 2010, "PG-13", 7.5),
    ("Tears of Steel", 2012, "PG-13", 6.2),
    ("Cosmos Laundromat", 2015, "PG", 7.0),
    ("Caminandes: Llamigos", 2016, "G", 7.6),
    ("Agent 327: Operation Barbershop", 2017, "PG", 7.9),
    ("The Daily Dweebs", 2017, "G", 7.1),
]
SEED_SHOWS: list[tuple[str, int, int]] = [  # title, year, seasons (3 episodes each)
    ("Pioneer One", 2010, 2),
    ("The Loopback Chronicles", 2021, 1),
    ("Test Pattern Theater", 2019, 1),
]
SEED_COLLECTIONS: list[tuple[str, list[int]]] = [
    ("Blender Open Movies", [101, 102, 103, 104]),
    ("Animal Shorts", [101, 106]),
]
# Each season's episodes, in airing order (not in title order), a week apart from Jan 8.
SEED_EPISODES = [("Pilot", "Lift-off", "Contact"), ("Homecoming", "Quarantine", "Eclipse")]
FIRST_MOVIE_KEY, FIRST_SHOW_KEY, FIRST_COLLECTION_KEY = 101, 201, 1001
# artist, [(album, year, [track titles])]
SEED_MUSIC: list[tuple[str, list[tuple[str, int, list[str]]]]] = [
    ("Loopback Quartet", [("Echo Request", 2019, ["Ping", "Pong", "Timeout"])]),
    ("The Null Routes", [("Port 0", 2021, ["Blackhole", "Martian Packets"])]),
]
FIRST_ARTIST_KEY, MUSIC_COLLECTION_KEY = 301, 1003
# Albums added later to the second artist (ratingKeys 310...): an older album and an EP,
# which Plex lists under the artist's `/children` no more (python-plexapi PR #884).
# (album, year, [track titles], formats)
SEED_MORE_ALBUMS: list[tuple[str, int, list[str], list[str]]] = [
    ("Bogon", 2018, ["Unallocated", "Reserved", "Documentation Prefix"], []),
    ("Anycast", 2023, ["Nearest Node"], ["EP"]),
]
MORE_ALBUMS_KEY = 310
# album, [photo titles], nested albums [(album, [photo titles])]
SEED_PHOTOS: list[tuple[str, list[str], list[tuple[str, list[str]]]]] = [
    ("Holidays 2023", ["Beach", "Harbour"], []),
    ("Garden", ["Roses"], [("Spring", ["Blossom"])]),
]
FIRST_PHOTO_KEY = 401


def seeded_library(youtube_dir: str) -> Library:
    """A fresh library with the seeded items; ratingKeys are stable across runs."""
    library = Library(youtube_dir)
    _add_movies(library)
    _add_shows(library)
    for n, (title, members) in enumerate(SEED_COLLECTIONS):
        key = FIRST_COLLECTION_KEY + n
        library.collections[key] = Collection(
            key, MOVIES_SECTION, title, list(members), BASE_TIME + n
        )
    _add_music(library)
    _add_photos(library)
    return library


def _add_music(library: Library) -> None:
    """Artists → albums → tracks (plex-api.rs tests/mocks/server/media/music_*.json), a
    collection of the artists (subtype `artist`) and one of the albums (`album`)."""
    rk, artists = FIRST_ARTIST_KEY, []
    for artist, albums in SEED_MUSIC:
        artist_rk, rk = rk, rk + 1
        artists.append(artist_rk)
        library.items[artist_rk] = Item(artist_rk, MUSIC_SECTION, "artist", artist)
        for n, (album, year, tracks) in enumerate(albums, start=1):
            album_rk, rk = rk, rk + 1
            library.items[album_rk] = Item(
                album_rk, MUSIC_SECTION, "album", album, year=year, parent=artist_rk, index=n
            )
            for number, track in enumerate(tracks, start=1):
                library.items[rk] = Item(
                    rk,
                    MUSIC_SECTION,
                    "track",
                    track,
                    duration=180_000 + number * 1000,
                    parent=album_rk,
                    index=number,
                    file=f"/data/music/{artist}/{album}/{number:02d} - {track}.flac",
                    size=1 << 18,
                )
                rk += 1
    library.collections[MUSIC_COLLECTION_KEY] = Collection(
        MUSIC_COLLECTION_KEY, MUSIC_SECTION, "Late Night", artists, BASE_TIME + 5
    )
    album_keys = [i.rating_key for i in library.items.values() if i.type == "album"]
    library.collections[MUSIC_COLLECTION_KEY + 1] = Collection(
        MUSIC_COLLECTION_KEY + 1, MUSIC_SECTION, "Full Albums", album_keys, BASE_TIME + 6, "album"
    )
    _add_more_albums(library, artists[-1])


def _add_more_albums(library: Library, artist_rk: int) -> None:
    rk, artist = MORE_ALBUMS_KEY, library.items[artist_rk].title
    for n, (album, year, tracks, formats) in enumerate(SEED_MORE_ALBUMS, start=2):
        album_rk, rk = rk, rk + 1
        library.items[album_rk] = Item(
            album_rk,
            MUSIC_SECTION,
            "album",
            album,
            year=year,
            parent=artist_rk,
            index=n,
            formats=list(formats),
        )
        for number, track in enumerate(tracks, start=1):
            library.items[rk] = Item(
                rk,
                MUSIC_SECTION,
                "track",
                track,
                duration=200_000 + number * 1000,
                parent=album_rk,
                index=number,
                file=f"/data/music/{artist}/{album}/{number:02d} - {track}.flac",
                size=1 << 18,
            )
            rk += 1


def _add_photos(library: Library) -> None:
    """Photo albums holding photos and albums (plex-api.rs photo_library.json and
    photo_album.json: both kinds are `type: photo`; photos carry a year, albums do not)."""
    rk = FIRST_PHOTO_KEY
    for n, (album, photos, nested) in enumerate(SEED_PHOTOS, start=1):
        album_rk = rk
        library.items[album_rk] = Item(album_rk, PHOTOS_SECTION, "photoalbum", album, index=n)
        rk = _add_album_photos(library, album_rk + 1, album_rk, f"/data/photos/{album}", photos)
        for sub, sub_photos in nested:
            sub_rk = rk
            library.items[sub_rk] = Item(
                sub_rk, PHOTOS_SECTION, "photoalbum", sub, parent=album_rk, index=1
            )
            folder = f"/data/photos/{album}/{sub}"
            rk = _add_album_photos(library, sub_rk + 1, sub_rk, folder, sub_photos)
    # A photo straight in the library's folder sits at the top level, beside the albums.
    library.items[rk] = Item(
        rk, PHOTOS_SECTION, "photo", "Scan 0001", year=2022, file="/data/photos/Scan 0001.jpg"
    )


def _add_album_photos(
    library: Library, rk: int, album_rk: int, folder: str, photos: list[str]
) -> int:
    for number, title in enumerate(photos, start=1):
        library.items[rk] = Item(
            rk,
            PHOTOS_SECTION,
            "photo",
            title,
            year=2023,
            parent=album_rk,
            index=number,
            file=f"{folder}/{title}.jpg",
            size=1 << 17,
        )
        rk += 1
    return rk


def _add_movies(library: Library) -> None:
    for n, (title, year, content_rating, rating) in enumerate(SEED_MOVIES):
        rk = FIRST_MOVIE_KEY + n
        library.items[rk] = Item(
            rk,
            MOVIES_SECTION,
            "movie",
            title,
            year=year,
            summary=f"{title} ({year}), an open movie.",
            added_at=BASE_TIME + n * 3600,
            duration=600_000 + n * 1000,
            content_rating=content_rating,
            rating=rating,
            file=f"/data/movies/{title} ({year})/{title}.mkv",
            size=1 << 20,
        )


def _add_shows(library: Library) -> None:
    rk = FIRST_SHOW_KEY
    for n, (title, year, seasons) in enumerate(SEED_SHOWS):
        added_at = BASE_TIME + n * 3600
        library.items[rk] = Item(
            rk,
            SHOWS_SECTION,
            "show",
            title,
            year=year,
            summary=f"{title}, a series.",
            added_at=added_at,
            duration=1_500_000,
            content_rating="TV-PG",
            rating=8.0 - n / 10,
        )
        rk = _add_seasons(library, rk, title, year, seasons, added_at)


def _add_seasons(
    library: Library, show_rk: int, title: str, year: int, seasons: int, added_at: int
) -> int:
    """The show's seasons, each followed by its three episodes, on the ratingKeys right
    after the show's; returns the next free ratingKey."""
    rk = show_rk + 1
    for season in range(1, seasons + 1):
        season_rk = rk
        library.items[season_rk] = Item(
            season_rk,
            SHOWS_SECTION,
            "season",
            f"Season {season}",
            year=year,
            added_at=added_at,
            parent=show_rk,
            index=season,
        )
        rk += 1
        titles = SEED_EPISODES[(season - 1) % len(SEED_EPISODES)]
        for episode, episode_title in enumerate(titles, start=1):
            library.items[rk] = Item(
                rk,
                SHOWS_SECTION,
                "episode",
                episode_title,
                year=year + season - 1,
                aired=f"{year + season - 1}-01-{1 + 7 * episode:02d}",
                summary=f"{title} S{season:02d}E{episode:02d}",
                added_at=added_at + episode,
                duration=1_500_000,
                content_rating="TV-PG",
                rating=7.5,
                parent=season_rk,
                index=episode,
                file=f"/data/tv/{title}/S{season:02d}E{episode:02d}.mkv",
                size=1 << 20,
            )
            rk += 1
    return rk
