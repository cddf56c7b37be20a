"""Benchmarked recommendations (issue 16): verified indexes timed for real on the agent's sandbox."""
