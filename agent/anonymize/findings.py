"""The local advisor's report, as it may leave the agent with a snapshot.

The advisor works on raw catalog text inside the agent: a `drop_index` rollback rebuilds the index
from its real definition, which may hold constants (`WHERE status = 'active'`). What is shipped
keeps only text with no literal in it; a rollback that has one is withheld (the agent rebuilds it
from the live definition when asked), and a recommendation whose own SQL has one is not sent.
Skipped statements stay local: their reasons can quote the planner's errors verbatim.
"""

from __future__ import annotations

import logging

from agent.anonymize.literals import scrub_literals
from shared.wire.advice import AdviceReport, Recommendation

log = logging.getLogger(__name__)

WITHHELD_ROLLBACK = (
    " The rollback is not shown here because the index definition holds constants; the agent "
    "rebuilds it from the live definition."
)


def _literal_free(text: str) -> bool:
    return scrub_literals(text) == text


def _for_wire(recommendation: Recommendation) -> Recommendation | None:
    if not _literal_free(recommendation.sql):
        log.warning("recommendation %s not sent: its SQL holds a constant", recommendation.id)
        return None
    rollback = recommendation.rollback_sql
    if rollback is None or _literal_free(rollback):
        return recommendation
    return recommendation.model_copy(
        update={"rollback_sql": None, "rationale": recommendation.rationale + WITHHELD_ROLLBACK}
    )


def findings_for_wire(report: AdviceReport) -> AdviceReport:
    kept = [shipped for r in report.recommendations if (shipped := _for_wire(r)) is not None]
    return report.model_copy(update={"recommendations": kept, "skipped": []})
