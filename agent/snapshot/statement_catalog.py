"""What the agent knows about each queryid: its raw text (kept local) and how it was anonymized.

Texts are fetched once per queryid and parsed once; steady-state cycles touch neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.anonymize.query_text import AnonymizedStatement, Rejected, anonymize_query
from agent.db.session import AGENT_MARKER

DropReason = Literal["utility", "unparseable", "transaction_control", "agent_own", "catalog_only"]


@dataclass(frozen=True, slots=True)
class KnownStatement:
    raw_text: str  # never leaves the agent: the local advisor and EXPLAIN need it
    anonymized: AnonymizedStatement


@dataclass(frozen=True, slots=True)
class DroppedStatement:
    reason: DropReason


def classify(raw_text: str) -> KnownStatement | DroppedStatement:
    # queryid ignores comments, so our own statements are recognised by the marker in the text
    # and, when someone else's identical text was recorded first, by touching only catalogs.
    if AGENT_MARKER in raw_text:
        return DroppedStatement("agent_own")
    result = anonymize_query(raw_text)
    if isinstance(result, Rejected):
        return DroppedStatement(result.reason)
    if result.catalog_only:
        return DroppedStatement("catalog_only")
    return KnownStatement(raw_text=raw_text, anonymized=result)


class StatementCatalog:
    def __init__(self) -> None:
        self._by_queryid: dict[int, KnownStatement | DroppedStatement] = {}

    def unknown(self, queryids: set[int]) -> set[int]:
        return {queryid for queryid in queryids if queryid not in self._by_queryid}

    def learn(self, texts: dict[int, str]) -> None:
        for queryid, text in texts.items():
            self._by_queryid[queryid] = classify(text)

    def get(self, queryid: int) -> KnownStatement | DroppedStatement | None:
        return self._by_queryid.get(queryid)

    def texts_by_fingerprint(self) -> dict[str, str]:
        """A raw text for every fingerprint pg_stat_statements holds now, active this interval or not."""
        return {
            known.anonymized.fingerprint: known.raw_text
            for known in self._by_queryid.values()
            if isinstance(known, KnownStatement)
        }

    def forget_except(self, live_queryids: set[int]) -> None:
        """Drops entries pg_stat_statements no longer has, so memory follows the server's own cap."""
        for queryid in [q for q in self._by_queryid if q not in live_queryids]:
            del self._by_queryid[queryid]
