"""Making approved changes on the monitored database: allow-listed, preflighted, idempotent."""
