"""MediaNest: one sign-in for a household's Plex, Overseerr, Uptime Kuma and YouTube downloads."""

__version__ = "0.1.0"
API_VERSION = "1.0"
