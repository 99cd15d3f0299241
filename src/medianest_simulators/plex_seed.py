"""The Plex simulator's seeded library: eight open movies, three shows with episodes and
two collections, plus an empty "YouTube" section filled by scanning a real folder."""

from __future__ import annotations

from medianest_simulators.plex_library import (
    BASE_TIME,
    MOVIES_SECTION,
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
SEED_SHOWS: list[tuple[str, int, int]] = [  # title, year, seasons (each with 3 episodes)
    ("Pioneer One", 2010, 2),
    ("The Loopback Chronicles", 2021, 1),
    ("Test Pattern Theater", 2019, 1),
]
SEED_COLLECTIONS: list[tuple[str, list[int]]] = [
    ("Blender Open Movies", [101, 102, 103, 104]),
    ("Animal Shorts", [101, 106]),
]
FIRST_MOVIE_KEY, FIRST_SHOW_KEY, FIRST_COLLECTION_KEY = 101, 201, 1001


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
    return library


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
        for episode in range(1, 4):
            library.items[rk] = Item(
                rk,
                SHOWS_SECTION,
                "episode",
                f"Episode {episode}",
                year=year + season - 1,
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
