"""The advisor's index findings: the rule lives in shared.index_findings (the control plane's
index-health page classifies with it too); these are the names the advisor and its tests import."""

from shared.index_findings import (
    RawDefinitions,
    duplicate_indexes,
    index_findings,
    invalid_indexes,
    unused_indexes,
)

__all__ = ["RawDefinitions", "duplicate_indexes", "index_findings", "invalid_indexes", "unused_indexes"]
