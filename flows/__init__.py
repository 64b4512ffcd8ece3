"""Prefect flows: wiring only, one flow per file."""
