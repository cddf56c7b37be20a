"""A database at a glance: agent status, KPIs from the latest snapshot, load over time, open ideas."""
