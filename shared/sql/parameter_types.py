"""Types for `$n` parameters that PostgreSQL cannot infer on its own.

Normalized text turns `1 + 2` into `$1 + $2` (unknown + unknown: "operator is not unique") and
`CASE ... THEN 1 ELSE 0 END` into `THEN $3 ELSE $4` (resolved as text, so `sum(text)` does not
exist). The constants were numbers in both cases, so declaring such parameters numeric restores a
plannable statement. Only parameters with no typed neighbour are declared; the rest stay inferred.
"""

from __future__ import annotations

import functools

from sqlglot import exp

from shared.sql.normalized_text import PARAMETER, repair_normalized_text, split_segments
from shared.sql.parsing import UnparseableStatementError, parse_single_statement

_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)


def _number(parameter: exp.Parameter) -> int | None:
    inner = parameter.this
    return int(inner.this) if isinstance(inner, exp.Literal) and str(inner.this).isdigit() else None


def _untyped_operands(node: exp.Expr) -> bool:
    """True when every operand of an arithmetic node is a parameter, a literal or such a node again."""
    operands = [child for child in node.iter_expressions()]
    return all(
        isinstance(child, exp.Parameter | exp.Literal)
        or (isinstance(child, exp.Paren) and _untyped_operands(child))
        or (isinstance(child, _ARITHMETIC) and _untyped_operands(child))
        for child in operands
    )


# The advisor's search plans each statement again for every set of hypothetical indexes it tries
# (TPC-H: ~50 times each), and before PostgreSQL 16 every such plan of a statement with untyped
# arithmetic asks for this: parsing the same text again was ~15% of `advise` there.
@functools.lru_cache(maxsize=1024)
def numeric_parameters(normalized_text: str) -> frozenset[int]:
    """Numbers of the parameters that only make sense as numbers: untyped arithmetic, CASE results."""
    try:
        tree = parse_single_statement(repair_normalized_text(normalized_text))
    except UnparseableStatementError:
        return frozenset()
    found: set[int] = set()
    for node in tree.find_all(*_ARITHMETIC):
        if _untyped_operands(node):
            found |= {n for p in node.find_all(exp.Parameter) if (n := _number(p)) is not None}
    for case in tree.find_all(exp.Case):
        results = [branch.args.get("true") for branch in case.args.get("ifs", [])] + [
            case.args.get("default")
        ]
        results = [r for r in results if r is not None]
        if results and all(isinstance(r, exp.Parameter | exp.Literal) for r in results):
            found |= {n for r in results if isinstance(r, exp.Parameter) and (n := _number(r)) is not None}
    return frozenset(found)


def with_parameter_types(text: str, types: dict[int, str]) -> str:
    """The text with each parameter in `types` cast in place (`$2` -> `$2::numeric`), for
    `EXPLAIN (GENERIC_PLAN)`, which has no PREPARE to declare the types on. Quotes and comments
    are left byte for byte."""
    pieces: list[str] = []
    for segment in split_segments(text):
        if segment.kind != "code":
            pieces.append(segment.text)
            continue
        pieces.append(
            PARAMETER.sub(
                lambda match: (
                    f"({match.group(0)}::{types[int(match.group(1))]})"
                    if int(match.group(1)) in types
                    else match.group(0)
                ),
                segment.text,
            )
        )
    return "".join(pieces)
