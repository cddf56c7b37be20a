"""The API fixtures: an app on a migrated metadata database, and seeded tenants."""

from __future__ import annotations

from tests.integration.control_plane.api.conftest import acme, client, globex

__all__ = ["acme", "client", "globex"]
