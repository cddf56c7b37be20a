"""An already scrubbed EXPLAIN (FORMAT JSON) document with every name a pseudonym.

Keys that hold a name get the name's pseudonym; keys of PostgreSQL's own vocabulary stay; every
other string is an expression (conditions, Output, Sort Key...) and is rewritten through the parser.
A value that does not parse becomes None: the plan keeps its shape and loses that one string.
"""

from __future__ import annotations

import logging

from agent.anonymize.plan import IDENTIFIER_KEYS
from agent.privacy.names import NameKind, PseudonymCollision, Pseudonyms
from agent.privacy.sql_text import pseudonymous_expression
from shared.sql.parsing import UnparseableStatementError

log = logging.getLogger(__name__)

NAME_KEYS: dict[str, NameKind] = {
    "Relation Name": "t",
    "Schema": "s",
    "Alias": "t",
    "Index Name": "i",
    "CTE Name": "t",
    "Conflict Arbiter Indexes": "i",
    "Trigger Name": "n",
    "Constraint Name": "n",
    "Relation": "t",
    "Tuplestore Name": "t",
}
SORT_KEYS = frozenset({"Sort Key", "Presorted Key"})
# Function Name and Table Function Name stay: functions are not the schema's names.
VOCABULARY_KEYS = IDENTIFIER_KEYS - NAME_KEYS.keys() - {"Subplan Name"}
_CTE_SUBPLAN = "CTE "


def pseudonymous_plan(plan: object, names: Pseudonyms) -> object:
    return _rewrite(plan, None, names)


def _rewrite(value: object, key: str | None, names: Pseudonyms) -> object:
    if isinstance(value, dict):
        return {name: _rewrite(item, name, names) for name, item in value.items() if isinstance(name, str)}
    if isinstance(value, list):
        return [_rewrite(item, key, names) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        return None
    if key in NAME_KEYS:
        return names.pseudonym(value, NAME_KEYS[key])
    if key in VOCABULARY_KEYS:
        return value
    if key == "Subplan Name":
        # "SubPlan 1" and "InitPlan 2 (returns $1)" are the planner's; "CTE recent" names a CTE.
        if value.startswith(_CTE_SUBPLAN):
            return _CTE_SUBPLAN + names.pseudonym(value.removeprefix(_CTE_SUBPLAN), "t")
        return value if value.startswith(("SubPlan ", "InitPlan ")) else None
    try:
        return pseudonymous_expression(value, names, sort_key=key in SORT_KEYS)
    except (UnparseableStatementError, PseudonymCollision, RecursionError):
        return None
