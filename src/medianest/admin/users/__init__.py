"""Users: the list, role and status changes and deletion (the API and the admin page)."""
