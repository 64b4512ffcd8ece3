"""Benchmarks: timings measured against a baseline in the same session, never asserted."""
