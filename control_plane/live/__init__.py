"""Live updates for open pages: single-use tickets and server-sent events (see service.py)."""
