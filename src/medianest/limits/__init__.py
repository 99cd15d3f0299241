"""Limits the admin can change at run time (rate limits, concurrency, Plex sign-in)."""
