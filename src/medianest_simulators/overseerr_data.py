"""Data of the Overseerr simulator: the fixed TMDB-like catalogue, users, media and requests,
their JSON forms, and the default webhook template (every value a string)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from medianest_simulators.base import JSONDict

API_KEY = "sim-overseerr-api-key-0001"
# `GET /api/v1/status` (public)
STATUS = {
    "version": "1.34.0",
    "commitTag": "v1.34.0",
    "updateAvailable": False,
    "commitsBehind": 0,
    "restartRequired": False,
}
# Request status and media status numbers, as in Overseerr's server/constants; COMPLETED,
# BLOCKLISTED and DELETED are Seerr's (server/constants/media.ts; overseerr_seerr.py).
PENDING, APPROVED, DECLINED, FAILED, COMPLETED = 1, 2, 3, 4, 5
UNKNOWN, MEDIA_PENDING, PROCESSING, PARTIALLY_AVAILABLE, AVAILABLE = 1, 2, 3, 4, 5
BLOCKLISTED, DELETED = 6, 7
# Season statuses a new request may still ask for: MediaRequest.ts skips seasons whose
# status is anything but UNKNOWN (Overseerr 272-284) or DELETED (Seerr 415-429).
REQUESTABLE_SEASON = (UNKNOWN, DELETED)
REQUEST_STATUS_NAMES = {
    PENDING: "PENDING",
    APPROVED: "APPROVED",
    DECLINED: "DECLINED",
    FAILED: "FAILED",
}
MEDIA_STATUS_NAMES = {
    UNKNOWN: "UNKNOWN",
    MEDIA_PENDING: "PENDING",
    PROCESSING: "PROCESSING",
    PARTIALLY_AVAILABLE: "PARTIALLY_AVAILABLE",
    AVAILABLE: "AVAILABLE",
    BLOCKLISTED: "BLOCKLISTED",
    DELETED: "DELETED",
}
# Permission bits (server/lib/permissions.ts), the ones the simulator reads; a new user
# gets REQUEST (settings.ts `defaultPermissions`), the owner ADMIN.
ADMIN, MANAGE_USERS, MANAGE_REQUESTS, REQUEST = 2, 8, 16, 32
AUTO_APPROVE, AUTO_APPROVE_MOVIE, AUTO_APPROVE_TV = 128, 256, 512
REQUEST_MOVIE, REQUEST_TV = 262144, 524288
BASE_TIME = 1_700_000_000.0
POSTER_BASE = "https://image.tmdb.org/t/p/w600_and_h900_bestv2"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Title:
    """A catalogue entry; `seasons` (episode counts) only for TV."""

    media_type: str
    tmdb_id: int
    title: str
    year: int
    overview: str
    popularity: float = 10.0
    seasons: tuple[int, ...] = ()
    tvdb_id: int | None = None
    specials: int = 0  # episodes of TMDB's season 0, "Specials" (none: no season 0)
    # TMDB's translations, (language, title, overview): the simulator's own wording.
    translations: tuple[tuple[str, str, str], ...] = ()

    def named(self, language: str | None) -> tuple[str, str]:
        """Title and overview as TMDB answers them for `language` (what Overseerr passes
        on: routes/search.ts:23,32, movie.ts:20, tv.ts:17): that translation, else its
        language's (`de-AT` → `de`), else the original (English here)."""
        wanted = (language or "").lower()
        for tag in (wanted, wanted.split("-")[0]):
            for code, title, overview in self.translations:
                if tag and code.lower() == tag:
                    return title, overview
        return self.title, self.overview

    def matches(self, query: str) -> bool:
        """TMDB's search finds a title by its translated names too, whatever `language`."""
        names = (self.title, *(title for _, title, _ in self.translations))
        return bool(query) and any(query in name.lower() for name in names)

    def season_numbers(self, *, specials: bool) -> list[int]:
        """TMDB's seasons of a show: season 0 first when it has specials (and `specials`)."""
        first = 0 if specials and self.specials else 1
        return list(range(first, len(self.seasons) + 1))

    def result_json(self, language: str | None = None) -> JSONDict:
        title, overview = self.named(language)
        common: JSONDict = {
            "id": self.tmdb_id,
            "mediaType": self.media_type,
            "overview": overview,
            "posterPath": f"/sim{self.tmdb_id}.jpg",
            "backdropPath": f"/sim{self.tmdb_id}-backdrop.jpg",
            "popularity": self.popularity,
            "voteAverage": 7.0,
            "voteCount": 100 + self.tmdb_id % 900,
            "genreIds": [16] if self.media_type == "movie" else [18],
            "originalLanguage": "en",
        }
        if self.media_type == "movie":
            return common | {
                "title": title,
                "originalTitle": self.title,
                "releaseDate": f"{self.year}-05-10",
                "adult": False,
                "video": False,
            }
        return common | {
            "name": title,
            "originalName": self.title,
            "firstAirDate": f"{self.year}-09-01",
            "originCountry": ["US"],
        }


MOVIES = [
    Title("movie", 10378, "Big Buck Bunny", 2008, "A giant rabbit takes revenge.", 40.0),
    Title("movie", 45745, "Sintel", 2010, "A girl searches for her dragon.", 35.0),
    Title(
        *("movie", 133701, "Tears of Steel", 2012, "Warriors and scientists in Amsterdam.", 30.0),
        translations=(
            ("de", "Tränen aus Stahl", "Krieger und Wissenschaftler in Amsterdam."),
            ("fr", "Les Larmes d'acier", "Des guerriers et des scientifiques à Amsterdam."),
        ),
    ),
    Title(
        *("movie", 9761, "Elephants Dream", 2006, "Two people explore a strange machine.", 20.0),
        translations=(
            ("de", "Elefantentraum", "Zwei Menschen erkunden eine seltsame Maschine."),
            ("fr", "Le Rêve des éléphants", "Deux personnes explorent une étrange machine."),
        ),
    ),
    Title("movie", 358332, "Cosmos Laundromat", 2015, "A sheep meets a salesman.", 22.0),
    Title("movie", 400001, "The Matrix Loopback", 1999, "Reality is 127.0.0.1.", 90.0),
    Title("movie", 400002, "Spring", 2019, "A shepherd girl and her dog.", 15.0),
    Title("movie", 400003, "Agent 327: Operation Barbershop", 2017, "A secret agent.", 25.0),
    Title("movie", 400004, "Caminandes: Llamigos", 2016, "A llama meets a penguin.", 12.0),
    Title("movie", 400005, "Hero", 2018, "A Grease Pencil showcase.", 8.0),
    Title("movie", 400006, "Coffee Run", 2020, "Fueled by caffeine.", 9.0),
    Title("movie", 400007, "Sprite Fright", 2021, "Teenagers meet forest sprites.", 18.0),
] + [
    Title("movie", 900000 + n, f"Test Pattern {n}", 2000 + n, f"Colour bars, volume {n}.", 1.0)
    for n in range(1, 26)
]
TV = [
    Title(
        *("tv", 30991, "Pioneer One", 2010, "An object falls from the sky.", 20.0, (4, 6), 5001),
        translations=(
            ("de", "Pionier Eins", "Ein Objekt fällt vom Himmel."),
            ("fr", "Pionnier Un", "Un objet tombe du ciel."),
        ),
    ),
    Title(
        "tv", 500001, "The Loopback Chronicles", 2021, "Packets that never leave.", 14.0, (3,), 5002
    ),
    Title(
        "tv", 500002, "Test Pattern Theater", 2019, "Colour bars, serialised.", 5.0, (3, 3, 3), 5003
    ),
    Title("tv", 500003, "Render Farm", 2022, "Life among the GPUs.", 11.0, (8, 8), 5004),
    Title(
        "tv", 500004, "Keyframes", 2023, "An animation studio comedy.", 7.0, (6,), 5005, specials=2
    ),
]
CATALOGUE: dict[tuple[str, int], Title] = {(t.media_type, t.tmdb_id): t for t in MOVIES + TV}
PERSON: JSONDict = {
    "id": 700001,
    "mediaType": "person",
    "name": "Ton Roosendaal",
    "profilePath": "/sim-ton.jpg",
    "popularity": 3.0,
    "adult": False,
    "knownFor": [MOVIES[0].result_json()],
}


def user_page_info(total: int, take: int, skip: int) -> JSONDict:
    """`pageInfo` of the user list, computed as routes/user/index.ts does."""
    return {
        "pages": math.ceil(total / take),
        "pageSize": take,
        "results": total,
        "page": math.ceil(skip / take) + 1,
    }


@dataclass
class User:
    id: int
    username: str
    email: str
    user_type: int = 1  # 1 Plex user, 2 local
    plex_id: int | None = None  # the plex.tv account id of a user imported from Plex
    permissions: int = REQUEST
    locale: str = ""  # UserSettings.locale ("": the app's `settings.main.locale`)

    def as_json(self, *, private: bool = True) -> JSONDict:
        """`private` False: without `email` and `plexId`, as entity/User.ts `filter()`
        answers a caller without MANAGE_USERS."""
        data: JSONDict = {
            "id": self.id,
            "email": self.email,
            "plexId": self.plex_id,
            "username": self.username,
            "plexUsername": self.username,
            "displayName": self.username,
            "permissions": self.permissions,
            "avatar": "/os_icon.svg",
            "userType": self.user_type,
            "createdAt": iso(BASE_TIME),
            "updatedAt": iso(BASE_TIME),
            "requestCount": 0,
        }
        if not private:
            del data["email"], data["plexId"]
        return data


@dataclass
class Media:
    id: int
    title: Title
    status: int = UNKNOWN
    status4k: int = UNKNOWN
    rating_key: str | None = None
    season_status: dict[int, int] = field(default_factory=dict)
    updated_at: float = BASE_TIME
    season_status4k: dict[int, int] = field(default_factory=dict)

    @property
    def blocklisted(self) -> bool:
        """Seerr's blocklist holds the title (overseerr_seerr.py)."""
        return self.status == BLOCKLISTED

    def as_json(self) -> JSONDict:
        data: JSONDict = {
            "id": self.id,
            "mediaType": self.title.media_type,
            "tmdbId": self.title.tmdb_id,
            "tvdbId": self.title.tvdb_id,
            "imdbId": None,
            "status": self.status,
            "status4k": self.status4k,
            "createdAt": iso(BASE_TIME),
            "updatedAt": iso(self.updated_at),
            "lastSeasonChange": iso(self.updated_at),
            "mediaAddedAt": (
                iso(self.updated_at) if self.status in (PARTIALLY_AVAILABLE, AVAILABLE) else None
            ),
            "serviceId": None,
            "externalServiceId": None,
            "ratingKey": self.rating_key,
            "ratingKey4k": None,
            "downloadStatus": [],
            "downloadStatus4k": [],
        }
        if self.title.media_type == "tv":
            data["seasons"] = [
                {
                    "id": self.id * 100 + n,
                    "seasonNumber": n,
                    "status": self.season_status.get(n, UNKNOWN),
                    "status4k": self.season_status4k.get(n, UNKNOWN),
                }
                for n in sorted(self.season_status.keys() | self.season_status4k.keys())
            ]
        return data


@dataclass
class MediaRequest:
    id: int
    media: Media
    requested_by: User
    status: int = PENDING
    is4k: bool = False
    seasons: list[int] = field(default_factory=list)
    modified_by: User | None = None
    created_at: float = BASE_TIME
    updated_at: float = BASE_TIME
    extra: JSONDict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in (PENDING, APPROVED)

    def as_json(self, *, with_media: bool = True) -> JSONDict:
        data: JSONDict = {
            "id": self.id,
            "status": self.status,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "type": self.media.title.media_type,
            "is4k": self.is4k,
            "serverId": self.extra.get("serverId"),
            "profileId": self.extra.get("profileId"),
            "rootFolder": self.extra.get("rootFolder"),
            "languageProfileId": None,
            "tags": [],
            "isAutoRequest": False,
            "requestedBy": self.requested_by.as_json(),
            "modifiedBy": self.modified_by.as_json() if self.modified_by else None,
            "seasons": [
                {
                    "id": self.id * 100 + n,
                    "seasonNumber": n,
                    "status": self.status,
                    "createdAt": iso(self.created_at),
                    "updatedAt": iso(self.updated_at),
                }
                for n in self.seasons
            ],
            "seasonCount": len(self.seasons),
        }
        if with_media:
            data["media"] = self.media.as_json()
        return data


def media_info(media: Media, requests: list[MediaRequest]) -> JSONDict:
    """`mediaInfo` as embedded in search results and details."""
    mine = [r.as_json(with_media=False) for r in requests if r.media is media]
    return media.as_json() | {"requests": mine}
