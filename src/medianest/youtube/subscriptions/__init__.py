"""Subscriptions: a playlist or channel checked on a schedule, new videos queued as
downloads."""
