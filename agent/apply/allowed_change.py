"""From a signed job to a change the agent may make: the payload's statement, admitted by the allow-list.

The signature proves who sent the job, not that its statement is safe: the statement is parsed here
and must be on the allow-list, and what the payload says about it (index name, table) must agree with
what the statement itself says, so that a report about one index cannot hide a change to another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.apply.errors import ChangeRefused
from shared.sql.ddl_allow_list import AllowedDdl, DdlRefused, admit_ddl
from shared.wire.jobs import ChangePayload

ChangeJobKind = Literal["apply", "rollback"]


@dataclass(frozen=True)
class AllowedChange:
    job_kind: ChangeJobKind
    payload: ChangePayload
    ddl: AllowedDdl

    @property
    def payload_table(self) -> tuple[str, str] | None:
        """(schema, table) the payload names, if any; `schema.table` splits at its first dot."""
        if self.payload.table is None:
            return None
        schema, table = self.payload.table.split(".", 1)
        return schema, table


def allowed_change(job_kind: ChangeJobKind, payload: ChangePayload) -> AllowedChange:
    try:
        ddl = admit_ddl(payload.sql)
    except DdlRefused as refusal:
        raise ChangeRefused(f"the statement is not on the agent's allow-list: {refusal}") from None
    if job_kind == "rollback" and ddl.kind == "analyze":
        raise ChangeRefused("ANALYZE cannot be a rollback: it changes no schema")
    if payload.index_name is not None and ddl.index_name is not None and payload.index_name != ddl.index_name:
        raise ChangeRefused(
            f"the job names index {payload.index_name} but its statement is about {ddl.index_name}"
        )
    change = AllowedChange(job_kind=job_kind, payload=payload, ddl=ddl)
    named = change.payload_table
    if named is not None and ddl.table is not None:
        schema, table = named
        if table != ddl.table or (ddl.schema is not None and schema != ddl.schema):
            raise ChangeRefused(
                f"the job names table {payload.table} but its statement is about "
                f"{ddl.schema + '.' if ddl.schema else ''}{ddl.table}"
            )
    return change
