"""Abuse signals: one module per family, each a small pure function of state."""
