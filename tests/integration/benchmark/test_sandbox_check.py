"""`check` says whether the sandbox is reachable, writable and a copy of the monitored schema."""

from __future__ import annotations

from tests.integration.agent.conftest import run_agent
from tests.integration.benchmark.conftest import EVENTS, Pair


def check_lines(pair: Pair, *extra: str) -> list[str]:
    result = run_agent("check", "--database-url", pair.monitored_url, *extra)
    return [line for line in result.stdout.splitlines() if "sandbox:" in line]


def test_without_a_sandbox_benchmarking_is_off_and_that_is_no_failure(pair: Pair) -> None:
    assert check_lines(pair) == [
        "info  sandbox: none configured: benchmarking is off (OPTISCHEMA_SANDBOX_DATABASE_URL)"
    ]


def test_a_copy_of_the_monitored_database_passes(pair: Pair) -> None:
    pair.load(EVENTS)

    [line] = check_lines(pair, "--sandbox-database-url", pair.sandbox_url)

    assert line.startswith("ok    sandbox: ")
    assert "reachable, writable and has the same 1 tables" in line


def test_a_sandbox_with_another_schema_is_named_with_what_differs(pair: Pair) -> None:
    pair.load(EVENTS)
    pair.sandbox.execute("ALTER TABLE events ALTER COLUMN amount TYPE bigint; CREATE TABLE only_here (x int)")
    pair.monitored.execute("CREATE TABLE only_monitored (x int)")

    [line] = check_lines(pair, "--sandbox-database-url", pair.sandbox_url)

    assert line.startswith("fail  sandbox: ")
    assert "tables missing in the sandbox: public.only_monitored" in line
    assert "tables only in the sandbox: public.only_here" in line
    assert "columns that differ: public.events.amount" in line


def test_an_unreachable_or_read_only_sandbox_fails(pair: Pair) -> None:
    pair.sandbox.execute(
        "ALTER DATABASE " + pair.sandbox.info.dbname + " SET default_transaction_read_only = on"
    )

    [unwritable] = check_lines(pair, "--sandbox-database-url", pair.sandbox_url)
    [unreachable] = check_lines(
        pair, "--sandbox-database-url", pair.sandbox_url.rsplit("/", 1)[0] + "/nowhere"
    )

    assert unwritable.startswith("fail  sandbox: ") and "not writable" in unwritable
    assert unreachable.startswith("fail  sandbox: cannot connect")


def test_the_monitored_database_under_another_url_is_refused_as_a_sandbox(pair: Pair) -> None:
    pair.load(EVENTS)
    same = pair.monitored_url.replace("127.0.0.1", "localhost") + "?application_name=looks-different"

    [line] = check_lines(pair, "--sandbox-database-url", same)
    advise = run_agent(
        "advise", "--database-url", pair.monitored_url, "--sandbox-database-url", same, "--benchmark"
    )

    assert line.startswith("fail  sandbox: ") and "is the monitored database itself" in line
    assert advise.returncode == 1 and "is the monitored database itself" in advise.stderr
    indexes = pair.monitored.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'optischema%'")
    assert indexes.fetchone() == (0,)
