"""Prefect tasks (thin wrappers) and the Prefect-free modules they call."""
