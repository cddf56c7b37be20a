"""What the agent knows about each queryid: its raw text (kept local) and how it was anonymized.

Texts are fetched once per queryid and parsed once; steady-state cycles touch neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.anonymize.query_text import AnonymizedStatement, Rejected, anonymize_query
from agent.db.session import AGENT_MARKER
from agent.diff.statement_deltas import StatementKey

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
    """Keyed by the whole pg_stat_statements entry, not the queryid: one queryid can have the
    application's text at top level and the agent's own text nested under it (same role)."""

    def __init__(self) -> None:
        self._by_entry: dict[StatementKey, KnownStatement | DroppedStatement] = {}

    def unknown(self, keys: set[StatementKey]) -> set[StatementKey]:
        return {key for key in keys if key not in self._by_entry}

    def learn(self, texts: dict[StatementKey, str]) -> None:
        for key, text in texts.items():
            self._by_entry[key] = classify(text)

    def get(self, key: StatementKey) -> KnownStatement | DroppedStatement | None:
        return self._by_entry.get(key)

    def texts_by_fingerprint(self) -> dict[str, str]:
        """A raw text for every fingerprint pg_stat_statements holds now, active this interval or not."""
        return {
            known.anonymized.fingerprint: known.raw_text
            for known in self._by_entry.values()
            if isinstance(known, KnownStatement)
        }

    def forget_except(self, live: set[StatementKey]) -> None:
        """Drops entries pg_stat_statements no longer has, so memory follows the server's own cap."""
        for key in [k for k in self._by_entry if k not in live]:
            del self._by_entry[key]
