"""Signed-in sessions: the session rows and cookies, the in-memory cache of resolved
sessions and its invalidation across instances, remember-me, and purging what
nobody can use any more."""
