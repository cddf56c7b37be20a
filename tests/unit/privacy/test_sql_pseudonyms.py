"""SQL text with every schema object name a keyed pseudonym, and back: table-driven, like the anonymizer's.

Each case is an anonymized text and what the control plane must see, written with `{kind:name}` for
the pseudonym of a name (`{t:orders}` is the table orders' `t_…`). The text back from a pseudonymous
one names the same objects, quoted as the catalog spells them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.privacy.names import PSEUDONYM, Pseudonyms, UnknownPseudonym
from agent.privacy.sql_text import (
    pseudonymous_expression,
    pseudonymous_statement,
    pseudonymous_type,
    real_expression,
    real_statement,
)
from shared.sql.parsing import UnparseableStatementError

KEY = b"a test key that is long enough!!"
_PLACEHOLDER = re.compile(r"\{([stciyn]):([^}]+)\}")


@pytest.fixture
def names() -> Pseudonyms:
    return Pseudonyms(KEY)


def expected(template: str, names: Pseudonyms) -> str:
    return _PLACEHOLDER.sub(lambda m: f"{m.group(1)}_{names.digest(m.group(2))}", template)


STATEMENTS = [
    pytest.param(
        "SELECT id, ssn_hash FROM customer_secrets WHERE id = $1",
        "SELECT {c:id}, {c:ssn_hash} FROM {t:customer_secrets} WHERE {c:id} = $1",
        id="plain",
    ),
    pytest.param(
        "SELECT s.ssn_hash FROM vault.customer_secrets AS s WHERE s.id = $1",
        "SELECT {t:s}.{c:ssn_hash} FROM {s:vault}.{t:customer_secrets} AS {t:s} WHERE {t:s}.{c:id} = $1",
        id="schema-qualified-with-alias",
    ),
    pytest.param(
        'SELECT "Card Number" FROM "Vault"."CustomerSecrets"',
        "SELECT {c:Card Number} FROM {s:Vault}.{t:CustomerSecrets}",
        id="quoted-names-keep-their-case",
    ),
    pytest.param(
        "SELECT SSN_Hash FROM Customer_Secrets",
        "SELECT {c:ssn_hash} FROM {t:customer_secrets}",
        id="unquoted-names-fold-to-lower-case",
    ),
    pytest.param(
        "WITH recent_payouts AS (SELECT amount FROM payouts) SELECT SUM(amount) AS total FROM recent_payouts",
        "WITH {t:recent_payouts} AS (SELECT {c:amount} FROM {t:payouts}) "
        "SELECT SUM({c:amount}) AS {c:total} FROM {t:recent_payouts}",
        id="cte-names-and-output-aliases",
    ),
    pytest.param(
        "SELECT LOWER(email), COALESCE(nickname, $1), my_func(email) FROM members",
        "SELECT LOWER({c:email}), COALESCE({c:nickname}, $1), MY_FUNC({c:email}) FROM {t:members}",
        id="functions-are-left-alone",
    ),
    pytest.param(
        'SELECT "order", "select", "user".id FROM "user" ORDER BY 1 DESC LIMIT $1',
        "SELECT {c:order}, {c:select}, {t:user}.{c:id} FROM {t:user} ORDER BY 1 DESC LIMIT $1",
        id="names-that-are-keywords",
    ),
    pytest.param(
        "SELECT select_count, order_id, from_date FROM user_orders",
        "SELECT {c:select_count}, {c:order_id}, {c:from_date} FROM {t:user_orders}",
        id="names-that-look-like-keywords",
    ),
    pytest.param(
        "SELECT CAST(tier AS customer_tier), CAST(id AS TEXT) FROM members",
        "SELECT CAST({c:tier} AS {y:customer_tier}), CAST({c:id} AS TEXT) FROM {t:members}",
        id="user-defined-types-but-not-built-in-ones",
    ),
    pytest.param(
        "UPDATE accounts SET balance = balance - $1 WHERE owner_id IN (SELECT id FROM owners WHERE vip)",
        "UPDATE {t:accounts} SET {c:balance} = {c:balance} - $1 "
        "WHERE {c:owner_id} IN (SELECT {c:id} FROM {t:owners} WHERE {c:vip})",
        id="update-with-subquery",
    ),
    pytest.param(
        "INSERT INTO audit_log (actor, action) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING",
        "INSERT INTO {t:audit_log} ({c:actor}, {c:action}) VALUES ($1, $2) ON CONFLICT({c:actor}) DO NOTHING",
        id="insert-on-conflict",
    ),
    pytest.param(
        "CREATE INDEX CONCURRENTLY customer_secrets_ssn_hash_idx ON public.customer_secrets "
        "USING btree (ssn_hash, LOWER(email))",
        "CREATE INDEX CONCURRENTLY {i:customer_secrets_ssn_hash_idx} ON {s:public}.{t:customer_secrets} "
        "USING btree({c:ssn_hash}, LOWER({c:email}))",
        id="create-index",
    ),
    pytest.param(
        "DROP INDEX CONCURRENTLY IF EXISTS public.customer_secrets_ssn_hash_idx",
        "DROP INDEX CONCURRENTLY IF EXISTS {s:public}.{i:customer_secrets_ssn_hash_idx}",
        id="drop-index",
    ),
]


@pytest.mark.parametrize(("text", "sent"), STATEMENTS)
def test_every_name_becomes_its_pseudonym(text: str, sent: str, names: Pseudonyms) -> None:
    assert pseudonymous_statement(text, names) == expected(sent, names)


@pytest.mark.parametrize(("text", "sent"), STATEMENTS)
def test_pseudonyms_come_back_as_the_same_names(text: str, sent: str, names: Pseudonyms) -> None:
    pseudonymous_statement(text, names)  # the agent reads (and so knows) every name first
    back = real_statement(expected(sent, names), names)
    # The same objects, so the same text once pseudonymized again; and no pseudonym is left in it.
    assert pseudonymous_statement(back, names) == expected(sent, names)
    assert not any(PSEUDONYM.match(word.strip('"')) for word in back.replace(".", " ").split())


def test_pseudonyms_are_stable_keyed_and_valid_identifiers() -> None:
    one, again, other = Pseudonyms(KEY), Pseudonyms(KEY), Pseudonyms(b"another key, also long enough")
    assert one.pseudonym("customer_secrets", "t") == again.pseudonym("customer_secrets", "t")
    assert one.pseudonym("customer_secrets", "t") != other.pseudonym("customer_secrets", "t")
    assert re.fullmatch(r"t_[0-9a-f]{8}", one.pseudonym("customer_secrets", "t"))
    # A name's digest does not depend on its role: a table and the alias that repeats it agree.
    assert one.pseudonym("orders", "t")[2:] == one.pseudonym("orders", "c")[2:]


PLAN_EXPRESSIONS = [
    pytest.param(
        "((status)::text = ?::text)", False, "(CAST(({c:status}) AS TEXT) = CAST(? AS TEXT))", id="cast"
    ),
    pytest.param("(o.customer_id = ANY ($1))", False, "({t:o}.{c:customer_id} = ANY($1))", id="any-param"),
    pytest.param("(ssn_hash IS NOT NULL)", False, "({c:ssn_hash} IS NOT NULL)", id="null-test"),
    pytest.param("o.created_at DESC NULLS LAST", True, "{t:o}.{c:created_at} DESC NULLS LAST", id="sort-key"),
    pytest.param("lower(email)", False, "LOWER({c:email})", id="function-kept"),
]


@pytest.mark.parametrize(("text", "sort_key", "sent"), PLAN_EXPRESSIONS)
def test_plan_expressions(text: str, sort_key: bool, sent: str, names: Pseudonyms) -> None:
    assert pseudonymous_expression(text, names, sort_key=sort_key) == expected(sent, names)


def test_column_types(names: Pseudonyms) -> None:
    assert pseudonymous_type("character varying(20)", names) == "VARCHAR(20)"
    assert pseudonymous_type("timestamp with time zone", names) == "TIMESTAMPTZ"
    assert pseudonymous_type("customer_tier[]", names) == expected("{y:customer_tier}[]", names)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("SELECT FROM WHERE ((", id="garbage"),
        pytest.param("SELECT 1; SELECT 2", id="two-statements"),
    ],
)
def test_text_that_does_not_parse_is_refused_not_passed_on(text: str, names: Pseudonyms) -> None:
    with pytest.raises(UnparseableStatementError):
        pseudonymous_statement(text, names)


def test_a_fingerprint_never_sent_is_refused_not_looked_up(names: Pseudonyms) -> None:
    sent = names.fingerprint("0123456789abcdef")
    assert names.real_fingerprint(sent) == "0123456789abcdef"
    with pytest.raises(UnknownPseudonym):
        names.real_fingerprint("0123456789abcdef")  # a real one, guessed: no answer says it exists


def test_a_pseudonym_never_given_out_is_refused(names: Pseudonyms) -> None:
    pseudonymous_statement("SELECT id FROM customer_secrets", names)
    with pytest.raises(UnknownPseudonym):
        real_statement("CREATE INDEX CONCURRENTLY i_00000000 ON t_00000000 (c_00000000)", names)
    with pytest.raises(UnknownPseudonym):
        real_expression("LOWER(c_ffffffff)", names)


def test_an_index_name_the_control_plane_chose_travels_as_it_is(names: Pseudonyms) -> None:
    table = names.pseudonym("customer_secrets", "t")
    column = names.pseudonym("ssn_hash", "c")
    chosen = f"{table}_{column}_idx"  # what the control plane's own DDL names an index
    back = real_statement(f"CREATE INDEX CONCURRENTLY {chosen} ON {table} ({column})", names)
    assert back == f'CREATE INDEX CONCURRENTLY "{chosen}" ON "customer_secrets"("ssn_hash")'
    # Built under that name, the index is reported under it: the control plane finds what it asked for.
    assert names.pseudonym(chosen, "i") == chosen
    assert real_statement(f"DROP INDEX CONCURRENTLY IF EXISTS {chosen}", names).endswith(f'"{chosen}"')


@pytest.mark.parametrize(
    "job_sql",
    [
        pytest.param(
            "CREATE INDEX CONCURRENTLY customer_secrets ON {t} ({c})", id="a-real-name-as-index-name"
        ),
        pytest.param("CREATE INDEX CONCURRENTLY new_idx ON customer_secrets ({c})", id="a-real-table-name"),
        pytest.param("CREATE INDEX CONCURRENTLY new_idx ON {t} (ssn_hash)", id="a-real-column-name"),
        pytest.param('CREATE INDEX CONCURRENTLY new_idx ON {t} ("{c}")', id="a-quoted-pseudonym"),
    ],
)
def test_a_job_that_names_anything_but_a_pseudonym_is_refused(job_sql: str, names: Pseudonyms) -> None:
    # Whether it guessed right or not, the job learns nothing: it is refused before anything runs.
    table, column = names.pseudonym("customer_secrets", "t"), names.pseudonym("ssn_hash", "c")
    with pytest.raises(UnknownPseudonym):
        real_statement(job_sql.format(t=table, c=column), names)


def test_the_reverse_map_survives_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "privacy" / "names.json"
    first = Pseudonyms(KEY, store)
    sent = first.pseudonym("invented_before_restart_idx", "i")
    first.save()
    assert (store.stat().st_mode & 0o777) == 0o600
    assert Pseudonyms(KEY, store).real(sent) == "invented_before_restart_idx"
