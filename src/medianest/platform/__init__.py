"""Tables every layer above may use: leases, system settings, the audit log (and its writer)."""
