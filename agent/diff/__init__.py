"""Pure functions that turn two polls into per-interval deltas."""
