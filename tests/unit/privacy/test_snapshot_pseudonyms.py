"""A whole snapshot in privacy mode: no planted name survives anywhere in what would be sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agent.privacy.names import Pseudonyms
from agent.privacy.snapshot import pseudonymous_snapshot
from shared.wire.advice import AdviceReport, QueryEvidence, Recommendation
from shared.wire.snapshot import (
    ColumnStats,
    IndexStats,
    IntervalInfo,
    PlanSample,
    ServerInfo,
    Snapshot,
    StatementStats,
    TableStats,
)

KEY = b"a test key that is long enough!!"
# Every name planted below: none of them may appear in the sent JSON, in any case.
PLANTED = (
    "payroll_prod",
    "vaultschema",
    "customer_secrets",
    "ssn_hash",
    "card_tier",
    "secretalias",
    "secrets_ssn_idx",
    "tier_kind",
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FINGERPRINT = "0123456789abcdef"
QUERY = "SELECT secretalias.ssn_hash FROM vaultschema.customer_secrets AS secretalias WHERE secretalias.card_tier = $1"
PLAN = {
    "Plan": {
        "Node Type": "Index Scan",
        "Relation Name": "customer_secrets",
        "Schema": "vaultschema",
        "Alias": "secretalias",
        "Index Name": "secrets_ssn_idx",
        "Index Cond": "(ssn_hash = $1)",
        "Filter": "((card_tier)::text = ?::text)",
        "Output": ["secretalias.ssn_hash", "secretalias.card_tier"],
        "Plans": [
            {"Node Type": "Sort", "Sort Key": ["secretalias.ssn_hash DESC"], "Subplan Name": "CTE tier_kind"}
        ],
        "Startup Cost": 0.42,
    }
}


def a_snapshot() -> Snapshot:
    return Snapshot(
        snapshot_id=uuid.uuid4(),
        agent_version="test",
        collected_at=T0,
        database_name="payroll_prod",
        interval=IntervalInfo(kind="since_reset", started_at=None, ended_at=T0, seconds=None),
        server=ServerInfo(version="16.4", version_num=160004, is_replica=False),
        statements=[
            StatementStats(
                fingerprint=FINGERPRINT,
                query=QUERY,
                statement_type="select",
                relations=["vaultschema.customer_secrets"],
                calls=3,
            ),
            # Not one statement sqlglot reads: it is dropped and counted, never sent as it was.
            StatementStats(
                fingerprint="fedcba9876543210",
                query="SELECT ssn_hash FROM customer_secrets ((",
                statement_type="select",
                relations=["customer_secrets"],
            ),
        ],
        tables=[
            TableStats(
                schema_name="vaultschema",
                name="customer_secrets",
                row_estimate=10.0,
                total_bytes=1,
                table_bytes=1,
                index_bytes=0,
                columns=[
                    ColumnStats(name="ssn_hash", type="character varying(64)", not_null=True),
                    ColumnStats(name="card_tier", type="tier_kind", not_null=False),
                ],
            )
        ],
        indexes=[
            IndexStats(
                schema_name="vaultschema",
                table="customer_secrets",
                name="secrets_ssn_idx",
                definition="CREATE INDEX secrets_ssn_idx ON vaultschema.customer_secrets USING btree (ssn_hash)",
                columns=["ssn_hash", "expr"],
                access_method="btree",
                is_unique=False,
                is_primary=False,
                is_valid=True,
                is_partial=False,
                backs_constraint=False,
                size_bytes=8192,
            )
        ],
        plans=[PlanSample(fingerprint=FINGERPRINT, generic=True, total_cost=1.0, plan=PLAN)],
        findings=AdviceReport(
            server_version="16.4",
            hypopg=True,
            statements_analyzed=1,
            recommendations=[
                Recommendation(
                    id="create_index:0011223344556677",
                    kind="create_index",
                    tier="verified",
                    sql="CREATE INDEX CONCURRENTLY customer_secrets_card_tier_idx "
                    "ON vaultschema.customer_secrets (card_tier)",
                    rollback_sql="DROP INDEX CONCURRENTLY IF EXISTS vaultschema.customer_secrets_card_tier_idx",
                    table="vaultschema.customer_secrets",
                    columns=["card_tier"],
                    improvement_pct=91.5,
                    queries=[QueryEvidence(fingerprint=FINGERPRINT, query=QUERY, calls=3)],
                    rationale="1 statement(s) on vaultschema.customer_secrets get cheaper with it",
                )
            ],
        ),
    )


def test_no_planted_name_is_left_anywhere() -> None:
    sent = pseudonymous_snapshot(a_snapshot(), Pseudonyms(KEY))
    text = sent.model_dump_json().lower()
    assert [name for name in (*PLANTED, FINGERPRINT) if name in text] == []
    assert sent.privacy == "pseudonyms"


def test_every_part_keeps_its_structure() -> None:
    names = Pseudonyms(KEY)
    sent = pseudonymous_snapshot(a_snapshot(), names)
    [statement] = sent.statements
    assert sent.dropped.unparseable == 1
    assert statement.relations == [names.qualified("vaultschema.customer_secrets")]
    # Keyed like the names: the real fingerprint hashes the real text, which a guess could confirm.
    assert statement.fingerprint == names.fingerprint(FINGERPRINT) != FINGERPRINT
    assert sent.plans[0].fingerprint == statement.fingerprint
    assert names.real_fingerprint(statement.fingerprint) == FINGERPRINT
    [table] = sent.tables
    assert [c.type for c in table.columns] == ["VARCHAR(64)", names.pseudonym("tier_kind", "y")]
    [index] = sent.indexes
    assert index.columns == [names.pseudonym("ssn_hash", "c"), "expr"]
    assert index.definition is not None and index.definition.startswith(f"CREATE INDEX {index.name} ON ")
    plan = sent.plans[0].plan["Plan"]
    assert isinstance(plan, dict)
    assert (plan["Node Type"], plan["Startup Cost"]) == ("Index Scan", 0.42)
    assert plan["Index Name"] == names.pseudonym("secrets_ssn_idx", "i")
    assert plan["Filter"] == f"(CAST(({names.pseudonym('card_tier', 'c')}) AS TEXT) = CAST(? AS TEXT))"
    assert sent.findings is not None
    [finding] = sent.findings.recommendations
    assert finding.table == names.qualified("vaultschema.customer_secrets")
    assert finding.id != "create_index:0011223344556677"  # the old id hashed the real names
    assert finding.improvement_pct == 91.5 and "91.5%" in finding.rationale


def test_a_snapshot_without_privacy_mode_says_nothing_about_it() -> None:
    # Older control planes refuse unknown keys: the field is absent, not null.
    assert '"privacy"' not in a_snapshot().model_dump_json()
