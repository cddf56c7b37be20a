"""After a failed concurrent build: drop the INVALID index it left, never anything else.

A failed `CREATE INDEX CONCURRENTLY` (duplicate rows for a unique index, a lock wait given up, a
cancel) leaves its index in the catalog, INVALID: useless to queries, yet updated by every write and
holding the name. The agent drops it concurrently, but only when it is INVALID and no other backend
is still building it; a valid index of that name is never touched here.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from agent.anonymize.error_text import scrub_error
from agent.apply.catalog_state import IndexInfo, builds_in_progress, find_index
from agent.apply.connection import ApplyConnection
from agent.apply.errors import ChangeFailed
from agent.apply.index_build import run_with_lock_retries
from agent.config import ApplySettings
from shared.sql.index_ddl import drop_index_sql


class BuildStillRunning(ChangeFailed):
    pass


def refuse_while_building(connection: ApplyConnection, index: IndexInfo) -> None:
    building = builds_in_progress(connection, index)
    if building:
        raise BuildStillRunning(
            f"index {index.qualified} is INVALID and a build of it is still running "
            f"(backend pid {', '.join(map(str, building))}); the job can run again once it ends"
        )


def drop_invalid_leftover(
    connection: ApplyConnection,
    schema: str,
    name: str,
    settings: ApplySettings,
    *,
    sleep: Callable[[float], None],
) -> bool:
    """Drops the INVALID index `schema.name` if there is one; True when it dropped something.

    Raises BuildStillRunning when another backend is building it, ChangeFailed when it cannot be dropped.
    """
    index = find_index(connection, schema, name)
    if index is None or index.valid:
        return False
    refuse_while_building(connection, index)
    try:
        run_with_lock_retries(
            connection,
            drop_index_sql(index.schema, index.name),
            settings,
            what=f"dropping the INVALID index {index.qualified}",
            sleep=sleep,
        )
    except ChangeFailed as failure:
        raise ChangeFailed(
            f"{failure.reason}; the INVALID index stays until the job runs again", lock_retries=0
        ) from None
    except psycopg.Error as error:
        raise ChangeFailed(
            f"the INVALID index {index.qualified} could not be dropped: {scrub_error(error)}"
        ) from None
    return True
