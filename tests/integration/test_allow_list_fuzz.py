"""The DDL allow-list, fuzzed against a real server: whatever it admits does exactly what it says.

Hypothesis builds statements from the admitted shapes and mutates them with what an attacker (or a
confused LLM) would try: second statements, comments, nested comments, every kind of string quoting,
Unicode escapes, subqueries, volatile functions, odd case and white space, quoted names. For every
text `admit_ddl` admits, the test runs it on a real PostgreSQL through the *simple* query protocol,
which would happily run a second statement (the agent itself uses the extended protocol, a second
line of defence this test deliberately does without), and compares the catalog before and after:
the only difference allowed is the admitted index appearing (create) or disappearing (drop), and
ANALYZE changes nothing at all. Everything else must be refused with `DdlRefused`, never another
exception.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.sql.ddl_allow_list import AllowedDdl, DdlRefused, admit_ddl

SCHEMA_SQL = """
CREATE SCHEMA s;
CREATE SCHEMA "Mixed Schema";
CREATE TABLE t (a int, b text, "Order" int, "user" text, doc jsonb);
CREATE TABLE s.t (a int, b text);
CREATE TABLE "Mixed Schema"."Mixed Table" ("Id" int, payload text);
CREATE TABLE victim (x int);
INSERT INTO victim SELECT generate_series(1, 10);
INSERT INTO t SELECT g, g::text, g, 'u' || g, '{}' FROM generate_series(1, 50) g;
"""
# Recreated before every example, so that a DROP INDEX has something to drop.
EXISTING_INDEXES = ("CREATE INDEX existing_idx ON t (a)", 'CREATE INDEX "Existing_Mixed" ON s.t (b)')

CATALOG = """
SELECT n.nspname, c.relname, c.relkind, coalesce(i.indisvalid, true)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
UNION ALL SELECT 'role', rolname, 'r', rolsuper FROM pg_roles
UNION ALL SELECT 'schema', nspname, 'n', true FROM pg_namespace
UNION ALL SELECT 'function', proname, 'f', true FROM pg_proc WHERE pronamespace <> 'pg_catalog'::regnamespace
  AND pronamespace <> 'information_schema'::regnamespace
UNION ALL SELECT 'rows', 'victim', 'x', count(*) = 10 FROM victim
UNION ALL SELECT 'rows', 't', 'x', count(*) = 50 FROM t
"""

# --- the building blocks -------------------------------------------------------------------------


def _cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word.upper(), word.lower(), word.capitalize()])


_SPACE = st.sampled_from([" ", "  ", "\t", "\n", " \n "])
_INDEX_NAME = st.sampled_from(["fz_idx", '"Fz Idx"', "FZ_Upper", '"fz""quote"', "s.fz_idx", "fz_idx2"])
_TABLE = st.sampled_from(["t", "public.t", "s.t", '"Mixed Schema"."Mixed Table"', '"t"', "T", "victim"])
_KEY = st.sampled_from(
    [
        "a", "b", '"Order"', '"user"', "lower(b)", "(a + 1)", "a DESC NULLS LAST", "b text_pattern_ops",
        "(b || 'x')", "(lower(b))", "abs(a)", '"Id"', "payload",
    ]
)  # fmt: skip
_PREDICATE = st.sampled_from(
    ["a > 0", "b = 'it''s'", "b IS NOT NULL", "a IN (1, 2, 3)", "(a > 1 AND b <> 'x')", '"Order" < 5']
)
# What gets spliced in: every trick to run more than the admitted statement or hide text from it.
_INJECTION = st.sampled_from(
    [
        "; DROP TABLE victim", ";DROP TABLE victim;", "; SELECT pg_sleep(0)", " -- ; DROP TABLE victim",
        " /* ; DROP TABLE victim */", " /* /* */ DROP TABLE victim */", "\\; DROP TABLE victim",
        " $$; DROP TABLE victim; $$", " E'\\'; DROP TABLE victim; --'", " U&'\\0027; DROP TABLE victim'",
        " $q$ ; DROP TABLE victim $q$", "'; DROP TABLE victim; --", "\"; DROP TABLE victim; --",
        " WHERE (SELECT count(*) FROM victim) > 0", " WHERE pg_sleep(0) IS NULL",
        " WHERE set_config('role', 'x', false) IS NULL", " CASCADE", " TABLESPACE pg_default",
        ", victim", " INCLUDE (b)", " WITH (fillfactor = 90)", " WHERE nextval('s') > 0",
        "; CREATE ROLE fz_evil SUPERUSER", "; ALTER TABLE victim ADD COLUMN y int",
        " U&\"d\\0061ta\"", "; DELETE FROM victim", ")", "(", "'", '"', ";",
    ]
)  # fmt: skip


@st.composite
def create_index_text(draw: st.DrawFn) -> str:
    sp = draw(_SPACE)
    parts = [draw(_cased("create"))]
    if draw(st.booleans()):
        parts.append(draw(_cased("unique")))
    parts += [draw(_cased("index"))]
    if draw(st.integers(0, 9)) > 0:
        parts.append(draw(_cased("concurrently")))
    if draw(st.booleans()):
        parts.append("IF NOT EXISTS")
    if draw(st.integers(0, 9)) > 0:
        parts.append(draw(_INDEX_NAME))
    parts += [draw(_cased("on")), draw(_TABLE)]
    if draw(st.booleans()):
        parts.append(f"USING {draw(st.sampled_from(['btree', 'hash', 'gin', 'brin', 'BTREE']))}")
    keys = draw(st.lists(_KEY, min_size=1, max_size=3, unique=True))
    parts.append(f"({', '.join(keys)})")
    if draw(st.booleans()):
        parts.append(f"WHERE {draw(_PREDICATE)}")
    return sp.join(parts)


@st.composite
def drop_index_text(draw: st.DrawFn) -> str:
    sp = draw(_SPACE)
    parts = [draw(_cased("drop")), draw(_cased("index"))]
    if draw(st.integers(0, 9)) > 0:
        parts.append(draw(_cased("concurrently")))
    if draw(st.booleans()):
        parts.append("IF EXISTS")
    parts.append(
        draw(st.sampled_from(["existing_idx", "public.existing_idx", 's."Existing_Mixed"', "fz_idx"]))
    )
    return sp.join(parts)


@st.composite
def analyze_text(draw: st.DrawFn) -> str:
    return f"{draw(_cased('analyze'))}{draw(_SPACE)}{draw(_TABLE)}"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.one_of(create_index_text(), drop_index_text(), analyze_text()))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        injection = draw(_INJECTION)
        where = draw(st.sampled_from(["end", "middle", "start"]))
        if where == "end":
            text += injection
        elif where == "start":
            text = injection.lstrip("; ") + " " + text
        else:
            cut = draw(st.integers(0, len(text)))
            text = text[:cut] + injection + text[cut:]
    if draw(st.booleans()):
        text += draw(st.sampled_from([";", " ;", ";\n", "; "]))
    return text


# --- the oracle ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogRow:
    schema: str
    name: str
    kind: str
    flag: bool


def catalog(conn: psycopg.Connection) -> set[CatalogRow]:
    return {CatalogRow(*row) for row in conn.execute(CATALOG).fetchall()}


def reset(conn: psycopg.Connection) -> None:
    for row in conn.execute(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace JOIN pg_index i ON i.indexrelid = c.oid "
        "WHERE n.nspname IN ('public', 's', 'Mixed Schema')"
    ).fetchall():
        conn.execute(f"DROP INDEX {row[0]}")
    for statement in EXISTING_INDEXES:
        conn.execute(statement)


def expected_difference(change: AllowedDdl, before: set[CatalogRow], after: set[CatalogRow]) -> None:
    added, removed = after - before, before - after
    if change.kind == "analyze":
        assert not added and not removed, (change.sql, added, removed)
        return
    assert change.index_name is not None
    if change.kind == "create_index":
        assert not removed, (change.sql, removed)
        # A build that fails after its catalog entry (an invalid index) is still only that index.
        assert {(row.name, row.kind) for row in added} <= {(change.index_name, "i")}, (change.sql, added)
        return
    assert not added, (change.sql, added)
    assert {(row.name, row.kind) for row in removed} <= {(change.index_name, "i")}, (change.sql, removed)


@pytest.fixture
def fuzz_db(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(SCHEMA_SQL)
    db.execute("CREATE SEQUENCE s")
    return db


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mutated())
def test_whatever_the_allow_list_admits_does_only_what_it_says_on_a_real_server(
    fuzz_db: psycopg.Connection, text: str
) -> None:
    try:
        change = admit_ddl(text)
    except DdlRefused:
        event("refused")
        return
    event(f"admitted {change.kind}")
    assert change.kind in ("create_index", "drop_index", "analyze")
    reset(fuzz_db)
    before = catalog(fuzz_db)
    # Simple query protocol on purpose: a smuggled second statement would run here. An unknown
    # column or table is refused by the server; the catalog is compared all the same.
    with contextlib.suppress(psycopg.errors.DatabaseError):
        fuzz_db.execute(change.sql)
    expected_difference(change, before, catalog(fuzz_db))


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(mutated(), st.text(max_size=200)))
def test_the_allow_list_answers_any_text_with_an_admission_or_a_refusal(text: str) -> None:
    try:
        change = admit_ddl(text)
    except DdlRefused as refusal:
        assert str(refusal)
        return
    assert change.kind in ("create_index", "drop_index", "analyze")
    assert change.sql.split(None, 1)[0].lower() in ("create", "drop", "analyze")
