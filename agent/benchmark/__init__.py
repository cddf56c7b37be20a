"""Benchmarking candidate indexes on a sandbox copy of the monitored database (issue 16)."""
