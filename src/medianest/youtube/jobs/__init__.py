"""The download jobs: the queue in the database, the workers that claim and run them,
progress, the heartbeat and the queue breaker."""
