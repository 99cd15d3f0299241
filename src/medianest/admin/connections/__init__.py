"""Connections to the external apps (Plex, Overseerr, Uptime Kuma): their stored
configuration, the connection test and Overseerr's webhook (the API and the admin page)."""
