"""Downloads a person starts: submitting, listing, deleting, their files, the per-user
archive, URL checks and the YouTube quotas."""
