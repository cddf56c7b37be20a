"""One collection cycle, assembled into the shared wire model."""
