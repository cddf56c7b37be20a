"""Every drop finding's reason gives its kind back (shared.index_findings.finding_kind): the control
plane lists the agent's findings it cannot judge itself by that kind."""

from __future__ import annotations

from datetime import timedelta

from shared.index_findings import classified_index_findings, finding_kind
from shared.wire.snapshot import IndexStats
from tests.index_stats import index_stats


def index(name: str, columns: list[str], *, valid: bool = True) -> IndexStats:
    return index_stats(name, columns, valid=valid)


def test_each_kind_is_read_back_from_its_reason() -> None:
    found = classified_index_findings(
        [
            index("orders_a_idx", ["a"]),
            index("orders_a_twin_idx", ["a"]),  # duplicate
            index("orders_b_idx", ["b"]),  # leads the wider one: redundant
            index("orders_b_c_idx", ["b", "c"]),  # unused
            index("orders_d_idx", ["d"], valid=False),  # invalid
        ],
        stats_age=timedelta(days=30),
    )

    kinds = {finding.index.name: finding.kind for finding in found}
    assert set(kinds.values()) == {"unused", "duplicate", "redundant", "invalid"}
    for finding in found:
        assert finding_kind(finding.recommendation.rationale) == finding.kind
    assert finding_kind("An index someone described in other words.") is None
