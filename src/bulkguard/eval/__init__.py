"""Evaluation of decisions against labels."""
