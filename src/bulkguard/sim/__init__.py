"""Scenario simulator with labeled populations."""
