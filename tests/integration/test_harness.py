"""The harness itself: every test database is a monitored one."""

import psycopg


def test_test_database_has_statement_statistics_and_hypopg(db: psycopg.Connection) -> None:
    extensions = {row[0] for row in db.execute("SELECT extname FROM pg_extension").fetchall()}
    assert {"pg_stat_statements", "hypopg"} <= extensions
    assert db.execute("SHOW pg_stat_statements.track").fetchone() == ("all",)
    assert db.execute("SHOW pg_stat_statements.track_utility").fetchone() == ("on",)
