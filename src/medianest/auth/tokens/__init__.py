"""Personal API tokens: created, listed and revoked by their user, stored as hashes."""
