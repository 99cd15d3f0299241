"""Notifications: the in-app centre, web push and Apprise channels, the delivery worker."""
