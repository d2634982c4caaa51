"""Scenario datasets, the runner, metrics and thresholds."""
