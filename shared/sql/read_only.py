"""Is this text one read-only SELECT? The gate every proposed rewrite passes before anything else.

Both the control plane (dropping LLM output before it reaches an agent) and the agent's rewrite judge
ask this. The decision is made on sqlglot's tree, never on the text: a regular expression cannot tell
`FOR UPDATE` in a string or a comment from a locking clause. Anything the tree cannot vouch for is
refused, so the failure mode of a sqlglot gap is a lost rewrite, never a write.

What "read-only" means here: running the statement cannot change data, schema, settings, sequences,
locks held by others or files on the server. Merely reading (including `currval`, `now()`,
`random()`) is fine. A user-defined function may still write; only the catalog knows, so that check
lives with the agent (`agent.advise.rewrite_judge`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import POSTGRES

# sqlglot's parse time grows with the text; no honest single SELECT is anywhere near this long.
MAX_TEXT_LENGTH = 200_000

# Built-in functions whose call changes something or waits on something. Lowercase; matched whatever
# the schema (a `public.nextval` shadowing nothing is suspicious enough to refuse as well).
_BLOCKED_FUNCTIONS = frozenset(
    {
        "nextval", "setval", "set_config", "txid_current", "pg_current_xact_id", "pg_notify",
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_stat_statements_reset",
        "pg_drop_replication_slot", "pg_replication_slot_advance", "pg_logical_slot_get_changes",
        "pg_logical_slot_get_binary_changes", "pg_logical_emit_message", "pg_switch_wal",
        "pg_switch_xlog", "pg_promote", "pg_create_restore_point", "pg_backup_start",
        "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause",
        "pg_wal_replay_resume", "pg_import_system_collations", "pg_log_backend_memory_contexts",
        "pg_export_snapshot", "lowrite", "query_to_xml", "query_to_xmlschema",
        "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
    }
)  # fmt: skip
# Families: every advisory lock function, every sleep, every reset of statistics, every large object
# function (lo_import/lo_export touch server files), every directory listing, every dblink call (it
# runs arbitrary SQL elsewhere, possibly back here), every replication origin or slot copy, file writes
# from adminpack and hypothetical indexes (they change what later plans see in this session).
_BLOCKED_PREFIXES = (
    "pg_advisory_",
    "pg_try_advisory_",
    "pg_sleep",
    "pg_stat_reset",
    "lo_",
    "pg_ls_",
    "dblink",
    "pg_replication_origin_",
    "pg_copy_",
    "pg_file_",
    "hypopg_",
)
_SLOT_CREATION = ("pg_create_", "_replication_slot")

_DATA_MODIFYING = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_NOT_QUERIES = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable, exp.Copy, exp.Set, exp.Command)
# sqlglot's Lock flags (update, key) spelled as PostgreSQL's locking clauses.
_LOCK_CLAUSES = {
    (True, False): "FOR UPDATE",
    (True, True): "FOR NO KEY UPDATE",
    (False, False): "FOR SHARE",
    (False, True): "FOR KEY SHARE",
}


@dataclass(frozen=True)
class ReadOnlyVerdict:
    ok: bool
    reason: str | None  # why not, in a sentence a person understands; None when ok


_OK = ReadOnlyVerdict(ok=True, reason=None)


def _refused(reason: str) -> ReadOnlyVerdict:
    return ReadOnlyVerdict(ok=False, reason=reason)


def check_read_only_select(sql_text: str) -> ReadOnlyVerdict:
    """Whether the text is exactly one SELECT that cannot write, lock or call a side-effecting function."""
    if len(sql_text) > MAX_TEXT_LENGTH:
        return _refused(f"the text is longer than {MAX_TEXT_LENGTH} characters")
    statements = _parse(sql_text)
    if statements is None:
        return _refused("the text could not be parsed as PostgreSQL")
    if len(statements) != 1:
        return _refused(f"the text holds {len(statements)} statements; exactly one SELECT is allowed")
    tree = statements[0]
    top = _not_a_select(tree)
    if top is not None:
        return _refused(top)
    for node in tree.walk():
        reason = _refusal_for(node)
        if reason is not None:
            return _refused(reason)
    return _OK


def called_function_names(sql_text: str) -> frozenset[str]:
    """Lowercase names of every function the text calls (schema dropped); empty when it does not parse."""
    statements = _parse(sql_text)
    if statements is None:
        return frozenset()
    return frozenset(name for tree in statements for node in tree.walk() for name in function_names(node))


def _parse(sql_text: str) -> list[exp.Expr] | None:
    """The statements in the text, or None when sqlglot cannot parse it.

    parse_single_statement would do, but it cannot tell "two statements" from "garbage", and the two
    deserve different reasons. Importing shared.sql.parsing keeps sqlglot's logger (which quotes the
    text) muted; the exception is dropped for the same reason.
    """
    try:
        parsed = POSTGRES.parse(repair_normalized_text(sql_text))
    except Exception:
        return None
    return [statement for statement in parsed if statement is not None]


def _not_a_select(tree: exp.Expr) -> str | None:
    if isinstance(tree, exp.Subquery):
        return _not_a_select(tree.unnest())
    if isinstance(tree, exp.SetOperation):
        # Every branch must be a SELECT too; sqlglot reads a VALUES branch as SELECT * FROM (VALUES ...).
        return _not_a_select(tree.left) or _not_a_select(tree.right)
    if isinstance(tree, exp.Select):
        return None
    if isinstance(tree, exp.Command):
        # sqlglot's opaque fallback: the keyword is all that is known about the statement.
        return f"{_a(str(tree.this).upper())} statement is not a SELECT"
    return f"{_a(tree.key.upper())} statement is not a SELECT"


def _refusal_for(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Lock):
        clause = _LOCK_CLAUSES[(bool(node.args.get("update")), bool(node.args.get("key")))]
        return f"SELECT ... {clause} takes row locks"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO creates a table"
    if isinstance(node, _DATA_MODIFYING):
        return f"the query contains {_a(node.key.upper())}, which modifies data"
    if isinstance(node, exp.Command):
        return "part of the query could not be parsed, so it cannot be vouched for"
    if isinstance(node, _NOT_QUERIES):
        return f"the query contains {_a(node.key.upper())} statement"
    if isinstance(node, exp.NextValueFor):
        return "NEXT VALUE FOR advances a sequence"
    for name in function_names(node):
        if _is_blocked(name):
            return f"it calls {name}(), which has side effects or waits"
    return None


def function_names(node: exp.Expr) -> tuple[str, ...]:
    # PostgreSQL functions sqlglot does not know come as Anonymous with the name as written; the ones it
    # knows become typed nodes that forget the spelling, so all of their names are considered.
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
        return (node.name.lower(),)
    if isinstance(node, exp.Func):
        return tuple(name.lower() for name in node.sql_names())
    return ()


def _a(keyword: str) -> str:
    return f"{'an' if keyword[:1] in 'AEIOU' else 'a'} {keyword}"


def _is_blocked(name: str) -> bool:
    if name in _BLOCKED_FUNCTIONS or name.startswith(_BLOCKED_PREFIXES):
        return True
    prefix, suffix = _SLOT_CREATION
    return name.startswith(prefix) and name.endswith(suffix)
