"""YouTube cookies the admin gives yt-dlp: checked, stored encrypted, lent to downloads."""
