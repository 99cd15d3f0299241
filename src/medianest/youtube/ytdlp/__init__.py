"""The yt-dlp wrapper: running it, what its errors mean, and the guard on the connections
it opens."""
