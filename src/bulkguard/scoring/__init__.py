"""Scoring: declarative rules and the trained model give a score and reasons."""
