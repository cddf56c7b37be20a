"""The human-readable advice report: what `optischema-agent advise` prints by default."""

from __future__ import annotations

from agent.advise.advisor import create_index_recommendation
from agent.advise.candidate_index import CandidateIndex
from agent.advise.report_text import WIDTH, render_text
from shared.wire.advice import AdviceReport, QueryEvidence

LONG_QUERY = (
    "SELECT id, status, total FROM orders WHERE customer_id = $1 AND created_at > CURRENT_TIMESTAMP - "
    "CAST($2 AS INTERVAL) ORDER BY created_at DESC LIMIT $3"
)


def test_a_served_statement_is_one_bullet_whose_long_text_wraps_beneath_it() -> None:
    recommendation = create_index_recommendation(
        CandidateIndex("public", "orders", ("customer_id",)),
        tier="verified",
        queries=[
            QueryEvidence(
                fingerprint="eac502f0bac5e819",
                query=LONG_QUERY,
                calls=1730,
                cost_before=2084.06,
                cost_after=23.04,
            )
        ],
        rationale="1 statement(s) on public.orders get cheaper with it.",
        improvement_pct=98.9,
    )
    text = render_text(
        AdviceReport(
            server_version="15.20", hypopg=True, statements_analyzed=1, recommendations=[recommendation]
        )
    )

    lines = text.splitlines()
    first = next(n for n, line in enumerate(lines) if "1730 calls" in line)
    assert lines[first].startswith("    - cost 2084.06 -> 23.04, 1730 calls: SELECT")
    continued = lines[first + 1]
    assert continued.startswith("      ") and not continued.lstrip().startswith("-"), (
        text
    )  # not a second bullet
    assert " ".join(line.strip() for line in lines[first : first + 2]).endswith("LIMIT $3")
    assert all(len(line) <= WIDTH for line in lines)
