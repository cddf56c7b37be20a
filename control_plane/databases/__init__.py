"""Monitored databases and their agent tokens."""
