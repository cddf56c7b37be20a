"""The `check` line for the sandbox: reachable, writable, and the same schema as the monitored database."""

from __future__ import annotations

from agent.benchmark.sandbox import (
    can_write,
    compare_schemas,
    is_monitored_database,
    sandbox_database,
    table_columns,
)
from agent.collect.prerequisites import CheckResult
from agent.config import AgentConfig
from agent.db.session import DatabaseUnavailable, MonitoredDatabase

NAME = "sandbox"


def check_sandbox(config: AgentConfig) -> CheckResult:
    """Optional: without a sandbox, benchmarking is off and that is no failure. With one, any problem
    fails `check`, since whoever named a sandbox expects `advise --benchmark` to work."""
    if not config.sandbox_database_url:
        return CheckResult(
            NAME, "info", "none configured: benchmarking is off (OPTISCHEMA_SANDBOX_DATABASE_URL)", False
        )
    sandbox = sandbox_database(config.sandbox_database_url, config.limits)
    monitored = MonitoredDatabase(config.database_url, config.limits)
    try:
        with sandbox, sandbox.session() as session, monitored, monitored.session() as monitored_session:
            itself = is_monitored_database(session, monitored_session)
            refused = can_write(session)
            sandbox_columns = table_columns(session)
            monitored_columns = table_columns(monitored_session)
    except DatabaseUnavailable as error:
        return CheckResult(NAME, "fail", str(error))
    if itself:
        return CheckResult(
            NAME, "fail", f"{sandbox.redacted_url} is the monitored database itself: name a copy"
        )
    if refused:
        return CheckResult(NAME, "fail", f"{sandbox.redacted_url} is not writable: {refused}")
    difference = compare_schemas(monitored_columns, sandbox_columns)
    if not difference.same:
        return CheckResult(
            NAME,
            "fail",
            f"{sandbox.redacted_url} differs from the monitored database: {difference.describe()}",
        )
    return CheckResult(
        NAME,
        "ok",
        f"{sandbox.redacted_url} is reachable, writable and has the same {len(sandbox_columns)} tables",
    )
