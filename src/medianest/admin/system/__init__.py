"""The system: run-time limits and defaults, the download queue and yt-dlp, YouTube
quotas and where Plex sees the downloads (the API and the admin page)."""
