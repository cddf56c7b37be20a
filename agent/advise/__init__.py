"""The advisor: HypoPG-verified recommendations for a whole workload."""
