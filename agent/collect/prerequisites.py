"""What `optischema-agent check` verifies, each with the exact fix when it is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import sql

from agent.db.session import AgentSession

MINIMUM_VERSION_NUM = 130000
Status = Literal["ok", "fail", "warn", "info"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    required: bool = True

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


@dataclass(frozen=True)
class StatementStatsLocation:
    """Where pg_stat_statements lives in this database, once it is known to be usable."""

    schema: str
    has_info_view: bool


def check_server(session: AgentSession) -> tuple[list[CheckResult], StatementStatsLocation | None]:
    row = session.fetch_one(
        """
        SELECT current_setting('server_version'), current_setting('server_version_num')::int,
               current_user, current_database(), pg_is_in_recovery(),
               (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'),
               (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_stat_statements'),
               EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'),
               EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'),
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
               pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
               current_setting('pg_stat_statements.track', true)
        """
    )
    assert row is not None
    (version, version_num, user, database, in_recovery, preload, pgss_schema, hypopg_available,
     hypopg_created, is_superuser, reads_all_stats, track) = row  # fmt: skip

    results: list[CheckResult] = []
    if version_num >= MINIMUM_VERSION_NUM:
        results.append(CheckResult("server version", "ok", f"PostgreSQL {version}"))
    else:
        results.append(
            CheckResult("server version", "fail", f"PostgreSQL {version}; 13 or newer is required")
        )

    if preload is None:
        # Hidden from roles without pg_read_all_settings: ask the extension itself instead.
        loaded = _statement_stats_answer(session, pgss_schema)
        preload = "" if loaded is False else "pg_stat_statements"
    else:
        loaded = "pg_stat_statements" in [part.strip() for part in str(preload).split(",")]
    if loaded:
        results.append(CheckResult("pg_stat_statements loaded", "ok", "in shared_preload_libraries"))
    elif loaded is None:
        results.append(
            CheckResult(
                "pg_stat_statements loaded",
                "fail",
                f"cannot tell: run `GRANT pg_monitor TO {_quote_ident(str(user))};` as a superuser",
            )
        )
    else:
        libraries = ", ".join(
            p.strip() for p in [*str(preload).split(","), "pg_stat_statements"] if p.strip()
        )
        results.append(
            CheckResult(
                "pg_stat_statements loaded",
                "fail",
                f"add `shared_preload_libraries = '{libraries}'` to postgresql.conf "
                f"(or ALTER SYSTEM SET shared_preload_libraries = '{libraries}';) and restart PostgreSQL",
            )
        )

    if pgss_schema:
        results.append(
            CheckResult("pg_stat_statements created", "ok", f"in schema {pgss_schema} of {database}")
        )
    else:
        results.append(
            CheckResult(
                "pg_stat_statements created",
                "fail",
                f'run `CREATE EXTENSION pg_stat_statements;` in database "{database}"',
            )
        )

    if track in ("top", "all"):
        results.append(CheckResult("pg_stat_statements.track", "ok", str(track)))
    elif track is not None:
        results.append(
            CheckResult(
                "pg_stat_statements.track",
                "fail",
                "run `ALTER SYSTEM SET pg_stat_statements.track = 'top'; SELECT pg_reload_conf();`",
            )
        )

    if is_superuser or reads_all_stats:
        results.append(CheckResult("privileges", "ok", f"{user} can read every role's statistics"))
    else:
        results.append(
            CheckResult(
                "privileges", "fail", f"run `GRANT pg_monitor TO {_quote_ident(str(user))};` as a superuser"
            )
        )

    if hypopg_created:
        results.append(CheckResult("hypopg", "ok", "created", required=False))
    elif hypopg_available:
        results.append(
            CheckResult(
                "hypopg",
                "warn",
                f'run `CREATE EXTENSION hypopg;` in database "{database}" so that index advice is verified',
                required=False,
            )
        )
    else:
        major = int(version_num) // 10000
        results.append(
            CheckResult(
                "hypopg",
                "warn",
                f"install it (Debian/Ubuntu: `apt-get install postgresql-{major}-hypopg`), then "
                "`CREATE EXTENSION hypopg;`; without it index advice is advisory only",
                required=False,
            )
        )

    results.append(_explain_access(session, str(user), int(version_num)))
    role = "replica (read-only: nothing can be applied here)" if in_recovery else "primary"
    results.append(CheckResult("server role", "info", role, required=False))

    location = None
    if loaded and pgss_schema and version_num >= MINIMUM_VERSION_NUM:
        has_info = bool(
            session.fetch_one(
                "SELECT to_regclass(quote_ident(%s) || '.pg_stat_statements_info') IS NOT NULL", [pgss_schema]
            )[0]  # type: ignore[index]
        )
        location = StatementStatsLocation(schema=str(pgss_schema), has_info_view=has_info)
    return results, location


def _explain_access(session: AgentSession, user: str, version_num: int) -> CheckResult:
    """EXPLAIN checks table privileges as if the statement ran: a table the agent may not SELECT
    from gets no plan and no advice. The agent never reads rows (every EXPLAIN is without ANALYZE,
    read-only and rolled back), so read access is only what the planner's permission check wants."""
    row = session.fetch_one(
        """
        SELECT count(*) FILTER (WHERE NOT has_table_privilege(c.oid, 'SELECT')), count(*)
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.objid = c.oid AND d.deptype = 'e')
        """
    )
    unreadable, total = (int(row[0]), int(row[1])) if row else (0, 0)
    if unreadable == 0:
        return CheckResult(
            "explain access", "ok", f"can plan statements on all {total} tables", required=False
        )
    grant = (
        f"GRANT pg_read_all_data TO {_quote_ident(user)};"
        if version_num >= 140000
        else f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {_quote_ident(user)};"
    )
    return CheckResult(
        "explain access",
        "warn",
        f"{unreadable} of {total} tables cannot be planned (EXPLAIN needs SELECT): run `{grant}`",
        required=False,
    )


def _statement_stats_answer(session: AgentSession, schema: str | None) -> bool | None:
    """True when pg_stat_statements answers, False when it says it is not preloaded, None if unknown."""
    if not schema:
        return None
    try:
        with session.rolled_back():
            session.fetch_all(
                sql.SQL("SELECT 1 FROM {}.pg_stat_statements(false) LIMIT 1").format(sql.Identifier(schema))
            )
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return False
    except psycopg.Error:
        return None
    return True


def _quote_ident(name: str) -> str:
    if name.isidentifier() and name == name.lower():
        return name
    return '"' + name.replace('"', '""') + '"'


def all_required_ok(results: list[CheckResult]) -> bool:
    return all(result.status != "fail" for result in results if result.required)
