"""The msgspec fast path through a snapshot's statements says yes and no exactly where the pydantic
models do: same fields, same defaults, same bounds, and the rest of the snapshot still by the model."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from pydantic import TypeAdapter, ValidationError

from control_plane.ingestion import payload
from control_plane.ingestion.payload import PayloadRejected, parse_snapshot
from control_plane.ingestion.statement_rows import (
    COUNTER_FIELDS,
    StatementCounterRow,
    StatementRow,
    StatementsRejected,
    decode_statements,
)
from shared.wire.advice import AdviceReport
from shared.wire.snapshot import StatementStats
from tests.index_stats import index_stats
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot

MODEL_LIST = TypeAdapter(list[StatementStats])
NUMERIC = {name for name, field in StatementStats.model_fields.items() if field.annotation in (int, float)}
# Every field gets each of these in turn; whatever the model says of one, the fast path says too.
ODD_VALUES: list[Any] = [
    -1, 0, 1, 1.5, 5.0, -0.0, 2**63 - 1, 2**63, 1e300, "5", "x", "", None, [], ["a"], [1], {},
]  # fmt: skip
VALID = {"fingerprint": "0123456789abcdef", "query": "SELECT $1", "statement_type": "select"}


def model_accepts(statements: list[dict[str, Any]]) -> bool:
    try:
        MODEL_LIST.validate_json(json.dumps(statements))
    except ValidationError:
        return False
    return True


def fast_accepts(statements: list[dict[str, Any]]) -> bool:
    try:
        decode_statements(json.dumps(statements).encode())
    except StatementsRejected:
        return False
    return True


def test_the_rows_have_the_models_fields_and_defaults() -> None:
    fields = {name: field for name, field in StatementStats.model_fields.items()}
    assert set(StatementRow.__struct_fields__) == set(fields)
    row = decode_statements(json.dumps([VALID]).encode())[0]
    model = StatementStats.model_validate(VALID)
    assert msgspec.structs.asdict(row) == model.model_dump()


@pytest.mark.parametrize("field", sorted(StatementStats.model_fields))
def test_every_odd_value_of_every_field_gets_the_models_answer(field: str) -> None:
    # The documented differences aside: a boolean as a number, a float as a boolean.
    values = ODD_VALUES if field in NUMERIC else [True, False, *ODD_VALUES]
    for value in values if field != "toplevel" else [v for v in values if not isinstance(v, float)]:
        statements = [{**VALID, field: value}]
        assert fast_accepts(statements) == model_accepts(statements), (field, value)
    missing = [{key: value for key, value in VALID.items() if key != field}]
    assert fast_accepts(missing) == model_accepts(missing), field


@pytest.mark.parametrize("field", sorted(NUMERIC))
def test_a_boolean_counter_is_refused_where_the_model_would_read_it_as_a_number(field: str) -> None:
    # The one documented difference: no agent sends `true` for a count, and refusing it is safer.
    assert not fast_accepts([{**VALID, field: True}]) and not fast_accepts([{**VALID, field: False}])


def test_unknown_keys_and_wrong_statement_types_are_refused() -> None:
    assert not fast_accepts([{**VALID, "extra": 1}])
    assert not fast_accepts([{**VALID, "statement_type": "SELECT"}])
    assert not fast_accepts([{**VALID, "fingerprint": "0123456789ABCDEF"}])


@pytest.mark.parametrize(
    "fingerprint",
    ["0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdé0", "0123456789abcde", "0123456789abcdef0",
     " 123456789abcdef", "0123456789abcde\n", "\uff10123456789abcde",  # a fullwidth zero: a digit, not hex
     # msgspec's regex took this one (Python's `$` matches before a final newline), and the worker
     # then failed on it for ever after a 202; pydantic refuses it
     "0123456789abcdef\n"],
)  # fmt: skip
def test_a_fingerprint_is_16_lowercase_hex_digits_as_the_model_says(fingerprint: str) -> None:
    statements = [VALID, {**VALID, "fingerprint": "fedcba9876543210"}, {**VALID, "fingerprint": fingerprint}]

    assert not model_accepts(statements)
    with pytest.raises(StatementsRejected) as refused:
        decode_statements(json.dumps(statements).encode())
    assert str(refused.value).startswith("statements.2.fingerprint: ")


def test_a_problem_is_located_the_pydantic_way() -> None:
    statements = [VALID, {**VALID, "fingerprint": "fedcba9876543210", "calls": -5}]
    with pytest.raises(StatementsRejected) as refused:
        decode_statements(json.dumps(statements).encode())
    assert str(refused.value).startswith("statements.1.calls: ")


def test_a_whole_snapshot_decodes_to_what_the_model_holds() -> None:
    snapshot = make_snapshot(statements=5)
    decoded = parse_snapshot(snapshot.model_dump_json().encode())

    assert decoded.snapshot == snapshot.model_copy(update={"statements": []})
    assert [msgspec.structs.asdict(row) for row in decoded.statements] == [
        statement.model_dump() for statement in snapshot.statements
    ]


def test_a_workers_counters_only_decode_reads_the_same_counters_and_the_text_on_demand() -> None:
    snapshot = make_snapshot(statements=5).model_copy(
        update={"indexes": [index_stats("orders_customer_idx", ["customer_id"], scans=7)]}
    )
    body = snapshot.model_dump_json().encode()
    whole = parse_snapshot(body)

    counters = parse_snapshot(body, counters_only=True)

    assert counters.snapshot == whole.snapshot.model_copy(update={"tables": [], "indexes": []})
    assert snapshot.tables and snapshot.indexes
    assert counters.schema_stats() == whole.schema_stats() == (snapshot.tables, snapshot.indexes)
    assert not any(isinstance(row, StatementRow) for row in counters.statements)
    counter_fields = set(StatementCounterRow.__struct_fields__)
    assert counter_fields == {"fingerprint", *COUNTER_FIELDS}
    assert [msgspec.structs.asdict(row) for row in counters.statements] == [
        {name: value for name, value in msgspec.structs.asdict(row).items() if name in counter_fields}
        for row in whole.statements
    ]
    assert counters.described() == whole.described() == whole.statements


def test_a_workers_decode_refuses_the_tables_it_is_asked_for_when_they_break_a_rule() -> None:
    body = json.loads(make_snapshot(statements=1).model_dump_json())
    body["tables"][0]["n_live_tup"] = -1
    decoded = parse_snapshot(json.dumps(body).encode(), counters_only=True)  # not read yet

    with pytest.raises(PayloadRejected) as refused:
        decoded.schema_stats()
    assert refused.value.status_code == 422
    assert refused.value.message.startswith("tables.0.n_live_tup: Input should be greater than or equal to 0")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: d["statements"][1].update(calls=-1), "invalid"),
        (lambda d: d["statements"].append(dict(d["statements"][0])), "invalid"),  # a repeated fingerprint
        (lambda d: d["server"].update(version_num="many"), "invalid"),
        (lambda d: d.update(surprise=True), "invalid"),
        (lambda d: d.update(schema_version=7), "unsupported_schema_version"),
        (lambda d: d.pop("schema_version"), "unsupported_schema_version"),
        (lambda d: d["tables"][0].update(name="a\x00b"), "invalid"),
    ],
)
def test_a_bad_snapshot_is_refused_with_422(change: Any, code: str) -> None:
    document = as_json(make_snapshot(statements=3))
    change(document)
    with pytest.raises(PayloadRejected) as refused:
        parse_snapshot(json.dumps(document).encode())
    assert (refused.value.status_code, refused.value.code) == (422, code)


@pytest.mark.parametrize(("body", "message"), [(b"[1, 2]", "JSON object"), (b"{,", "not JSON")])
def test_a_body_that_is_no_json_object_is_refused_with_400(body: bytes, message: str) -> None:
    with pytest.raises(PayloadRejected) as refused:
        parse_snapshot(body)
    assert refused.value.status_code == 400 and message in refused.value.message


def snapshot_text_with_statements_twice(first: list[dict[str, Any]], last: list[dict[str, Any]]) -> bytes:
    """A snapshot's JSON text whose `statements` key comes twice: JSON allows it, the last counts."""
    document = as_json(make_snapshot(statements=0))
    document.pop("statements")
    text = json.dumps(document)
    return f'{{"statements": {json.dumps(first)}, {text[1:-1]}, "statements": {json.dumps(last)}}}'.encode()


@pytest.mark.parametrize("counters_only", [False, True])
def test_a_repeated_member_counts_as_its_last_occurrence_as_the_model_reads_it(counters_only: bool) -> None:
    statements = as_json(make_snapshot(statements=2))["statements"]
    body = snapshot_text_with_statements_twice([{"calls": "not a statement"}], statements)

    decoded = parse_snapshot(body, counters_only)

    assert [row.fingerprint for row in decoded.described()] == [s["fingerprint"] for s in statements]
    assert [row.calls for row in decoded.statements] == [s["calls"] for s in statements]


@pytest.mark.parametrize("counters_only", [False, True])
def test_a_statement_that_breaks_a_rule_is_named_where_it_is_whichever_way_the_text_is_read(
    counters_only: bool,
) -> None:
    document = as_json(make_snapshot(statements=3))
    document["statements"][2]["calls"] = -1

    with pytest.raises(PayloadRejected) as refused:
        parse_snapshot(json.dumps(document).encode(), counters_only)
    assert refused.value.message.startswith("statements.2.calls: Expected `int` >= 0")


def full_snapshot_text() -> bytes:
    """A snapshot with every member the model has, the optional ones set."""
    report = AdviceReport(server_version="15.20", hypopg=True, statements_analyzed=3)
    snapshot = make_snapshot(statements=4).model_copy(update={"findings": report, "privacy": "pseudonyms"})
    return snapshot.model_dump_json().encode()


@pytest.mark.parametrize("counters_only", [False, True])
def test_a_valid_body_is_read_in_one_pass(counters_only: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_expected(data: bytes, counters_only: bool) -> None:
        raise AssertionError("a valid body was read member by member")

    monkeypatch.setattr(payload, "_parse_in_members", not_expected)

    decoded = parse_snapshot(full_snapshot_text(), counters_only)

    assert decoded.snapshot.privacy == "pseudonyms" and decoded.snapshot.findings is not None


def outcome(read: Any, body: bytes, counters_only: bool) -> object:
    """What reading the body gives: everything the decoded snapshot holds, or the refusal."""
    try:
        decoded = read(body, counters_only)
        schema_stats = decoded.schema_stats()
    except PayloadRejected as refused:
        return (refused.status_code, refused.code, refused.message)
    return (decoded.snapshot, decoded.statements, decoded.schema_text, decoded.described(), schema_stats)


def body_with(change: Any) -> bytes:
    document = json.loads(full_snapshot_text())
    change(document)
    return json.dumps(document).encode()


BODIES = {
    "valid": full_snapshot_text(),
    "no optional members": body_with(
        lambda d: [d.pop(k) for k in ("findings", "privacy", "plans", "tables")]
    ),
    "a null member": body_with(lambda d: d.update(tables=None)),
    "an unknown member": body_with(lambda d: d.update(surprise=1)),
    "an unknown member and a bad statement": body_with(
        lambda d: (d.update(surprise=1), d["statements"][0].update(calls=-1))
    ),
    "no statements": body_with(lambda d: d.pop("statements")),
    "null statements": body_with(lambda d: d.update(statements=None)),
    "a version as text": body_with(lambda d: d.update(schema_version="2")),
    "a later version with other statements": body_with(
        lambda d: d.update(schema_version=3, statements={"fingerprint": []})
    ),
    "a NUL in a query": body_with(lambda d: d["statements"][1].update(query="SELECT \x00")),
    "a NUL and a bad fingerprint": body_with(
        lambda d: (
            d["statements"][1].update(query="SELECT \x00"),
            d["statements"][2].update(fingerprint="X" * 16),
        )
    ),
    "a repeated fingerprint and a bad server": body_with(
        lambda d: (d["statements"].append(dict(d["statements"][0])), d["server"].update(version_num="x"))
    ),
    "a repeated key": full_snapshot_text()[:-1] + b', "server": {"version": "16"}}',
    "an array": b"[1]",
    "no JSON": b"{,",
}


@pytest.mark.parametrize("counters_only", [False, True])
@pytest.mark.parametrize("name", BODIES)
def test_the_one_pass_and_the_member_by_member_read_give_the_same_answer(
    name: str, counters_only: bool
) -> None:
    body = BODIES[name]

    assert outcome(parse_snapshot, body, counters_only) == outcome(
        payload._parse_in_members, body, counters_only
    )
