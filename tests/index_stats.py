"""One builder of the wire model `IndexStats` for tests: a plain B-tree on public.<table>, with only
what a test varies given."""

from __future__ import annotations

from shared.wire.snapshot import IndexStats


def index_stats(
    name: str,
    columns: list[str],
    *,
    table: str = "orders",
    scans: int = 0,
    valid: bool = True,
    partial: bool = False,
    method: str = "btree",
    size: int = 8192,
    definition: str | None = "",
) -> IndexStats:
    """`definition=""` writes the usual CREATE INDEX; None leaves it out, as an agent that cannot
    read it does."""
    return IndexStats(
        schema_name="public",
        table=table,
        name=name,
        definition=(
            f"CREATE INDEX {name} ON public.{table} USING {method} ({', '.join(columns)})"
            if definition == ""
            else definition
        ),
        columns=columns,
        access_method=method,
        is_unique=False,
        is_primary=False,
        is_valid=valid,
        is_partial=partial,
        backs_constraint=False,
        size_bytes=size,
        idx_scan=scans,
    )
