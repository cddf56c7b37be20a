"""Any catalog name survives the trip: written by index_ddl, read back by the allow-list as itself.

The analysis (control_plane.analysis.proof) and the advisor (CandidateIndex) write the same text for
every table and key list, and `admit_ddl` reads from it exactly the schema, table and index name the
catalog holds: the name the agent looks up, and the one the control plane puts in the job.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from agent.advise.candidate_index import CandidateIndex
from control_plane.analysis.proof import index_ddl
from shared.sql.ddl_allow_list import admit_ddl, catalog_name

# Names as PostgreSQL may hold them: up to 63 bytes, any printable text, reserved words, mixed case.
# Left out: what the allow-list refuses in any statement (backslashes, `--`, `/*`, `*/`: see
# shared.sql.ddl_allow_list), so an object named that way cannot be indexed through a job.
_WORDS = st.sampled_from(["order", "user", "select", "Order", "CustomerId", "a b", 'x"y', "1st", "é"])
_TEXT = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"], exclude_characters="\\"),
    min_size=1,
    max_size=20,
)
_NAMES = (_WORDS | _TEXT).filter(
    lambda name: len(name.encode()) <= 63 and not any(bad in name for bad in ("--", "/*", "*/"))
)


def key_columns(tree: exp.Expression) -> tuple[str | None, ...]:
    """The key columns of an admitted CREATE INDEX, as the catalog spells them."""
    params = tree.this.args["params"]
    return tuple(catalog_name(key.this.this) for key in params.args["columns"])


@settings(max_examples=300, deadline=None)
@given(
    schema=_NAMES.filter(lambda name: "." not in name),
    table=_NAMES,
    columns=st.lists(_NAMES.filter(lambda name: "(" not in name), min_size=1, max_size=4),
)
def test_both_sides_write_one_text_that_reads_back_as_the_catalog_names(
    schema: str, table: str, columns: list[str]
) -> None:
    keys = tuple(columns)
    create, rollback = index_ddl(f"{schema}.{table}", keys)
    advisors = CandidateIndex(schema, table, keys)
    assert (create, rollback) == (advisors.create_sql(), advisors.rollback_sql())

    admitted = admit_ddl(create)
    assert (admitted.kind, admitted.schema, admitted.table) == ("create_index", schema, table)
    assert admitted.index_name == advisors.name()
    assert key_columns(admitted.tree) == keys
    dropped = admit_ddl(rollback)
    assert (dropped.kind, dropped.schema, dropped.index_name) == ("drop_index", schema, advisors.name())
