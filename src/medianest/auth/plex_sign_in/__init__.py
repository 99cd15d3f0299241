"""Sign-in with Plex: the PIN flow, who may sign in (the server's people), and the
re-check of a signed-in Plex user's token and access."""
