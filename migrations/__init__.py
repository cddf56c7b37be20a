"""Alembic migrations of the control plane's metadata database (shipped inside the distribution)."""
