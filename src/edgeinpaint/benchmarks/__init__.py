"""Benchmarks: measured, never asserted in unit tests."""
