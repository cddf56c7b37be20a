"""Scrubbing of `EXPLAIN (FORMAT JSON)` output before it leaves the agent.

A plan is mostly structure (node types, relation and index names, estimates), but its expression
fields quote the statement's constants and, for plans of statements run with real values, customer
data: `"Filter": "(email = 'a@b.c'::text)"`. Keys whose values are names chosen from the schema or
fixed words chosen by PostgreSQL pass through; every other string, including keys added by future
PostgreSQL versions, is scrubbed, and a string that cannot be scrubbed with certainty becomes None.
"""

from __future__ import annotations

from agent.anonymize.literals import scrub_literals

# Values that are identifiers or PostgreSQL's own vocabulary, never an expression over data.
IDENTIFIER_KEYS = frozenset(
    {
        "Node Type",
        "Relation Name",
        "Schema",
        "Alias",
        "Index Name",
        "CTE Name",
        "Function Name",
        "Table Function Name",
        "Tuplestore Name",
        "Subplan Name",
        "Custom Plan Provider",
        "Join Type",
        "Strategy",
        "Parent Relationship",
        "Scan Direction",
        "Partial Mode",
        "Operation",
        "Command",
        "Sort Method",
        "Sort Space Type",
        "Cache Mode",
        "Sampling Method",
        "Conflict Resolution",
        "Conflict Arbiter Indexes",
        "Trigger Name",
        "Constraint Name",
        "Relation",
        "Parallel Aware",
        "Async Capable",
        "Single Copy",
        "Inner Unique",
    }
)


def scrub_plan(plan: object) -> object:
    """A copy of an EXPLAIN JSON document (the list or its single {"Plan": ...} dict) without literals."""
    return _scrub(plan, key=None)


def _scrub(value: object, key: str | None) -> object:
    if isinstance(value, dict):
        # Keys are PostgreSQL's labels (or GUC names under "Settings"); a non-string key is not
        # something EXPLAIN produces, so it is left out rather than interpreted.
        return {name: _scrub(item, name) for name, item in value.items() if isinstance(name, str)}
    if isinstance(value, list):
        return [_scrub(item, key) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if key in IDENTIFIER_KEYS else scrub_literals(value)
    # Not a JSON value: nothing to say about what it holds, so it does not travel.
    return None
