"""Handing finished downloads to Plex: the shared collection, the private playlist, and the
admin's test of the Plex path."""
