"""Per-account state on event time."""
