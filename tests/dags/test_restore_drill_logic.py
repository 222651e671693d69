"""The restore drill's decisions, without servers: which databases are a drill's stale
leftovers, how a restored fingerprint is compared with the manifest, which tables are
checksummed, the manifest's format, the stack and the metrics' dimensions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from platform_ops.backup import metrics
from platform_ops.backup.fingerprint import (
    DEFAULT_CHECKSUM_TABLES,
    Difference,
    Fingerprint,
    TableName,
    checksums_sql,
    compare,
    row_counts_sql,
    select_tables,
)
from platform_ops.backup.manifest import Manifest, ManifestError, manifest_key
from platform_ops.backup.sqlsession import quote_identifier, quote_literal
from platform_ops.metadata_backup import (
    CHECKSUM_TABLES_VARIABLE,
    BackupConfigError,
    resolve_options,
    resolve_stack,
)
from platform_ops.restore_drill import (
    describe_differences,
    scratch_created_at,
    scratch_name,
    stale_scratch_databases,
)

NOW = datetime(2026, 3, 8, 5, 30, 0, tzinfo=UTC)
DAG = TableName("public", "dag")
DAG_RUN = TableName("public", "dag_run")
VARIABLE = TableName("public", "variable")

# Scratch databases and stale leftovers.


def test_scratch_name_is_dated_lower_case_and_read_back_from_its_name() -> None:
    name = scratch_name(NOW, "a1b2c3")

    assert name == "restore_drill_20260308_053000_a1b2c3"
    assert name == name.lower()
    assert len(name) <= 63, "PostgreSQL truncates longer identifiers"
    assert scratch_created_at(name) == NOW
    assert scratch_created_at(scratch_name(NOW)) == NOW, "a random token also matches"


def test_only_scratch_databases_older_than_the_limit_are_stale() -> None:
    names = [
        scratch_name(NOW - timedelta(days=3), "000001"),
        scratch_name(NOW - timedelta(hours=25), "000002"),
        scratch_name(NOW - timedelta(hours=23), "000003"),  # a drill that may still run
        scratch_name(NOW, "000004"),
    ]

    assert stale_scratch_databases(names, NOW) == sorted(names[:2])
    assert stale_scratch_databases(names, NOW, timedelta(days=7)) == []


@pytest.mark.parametrize(
    "name",
    [
        "airflow",
        "restore_drill",
        "restore_drill_",
        "restore_drill_old",
        "restore_drill_20200101_000000",
        "restore_drill_20200101_000000_ABCDEF",  # upper case: not a name this code makes
        "restore_drill_20200101_000000_abcdef_copy",
        "xrestore_drill_20200101_000000_abcdef",
        "restore_drill_20200101_000000_abcdef\n",
        "restore_drillX20200101_000000_abcdef",
        "restore_drill_20201301_000000_abcdef",  # month 13: not a time
    ],
)
def test_a_database_is_never_stale_unless_its_whole_name_is_a_scratch_name(name: str) -> None:
    assert scratch_created_at(name) is None
    assert stale_scratch_databases([name], NOW + timedelta(days=3650)) == []


# Comparing fingerprints.


def fingerprint(rows: dict[TableName, int], checksums: dict[TableName, str]) -> Fingerprint:
    return Fingerprint(rows, checksums)


RECORDED = fingerprint({DAG: 5, DAG_RUN: 300, VARIABLE: 3}, {DAG: "aaa", DAG_RUN: "bbb"})


def test_equal_fingerprints_have_no_difference() -> None:
    same = fingerprint(dict(RECORDED.rows), dict(RECORDED.checksums))

    assert compare(RECORDED, same) == []


def test_every_difference_is_listed_with_its_table_expected_and_got() -> None:
    extra = TableName("public", "surprise")
    restored = fingerprint({DAG: 5, DAG_RUN: 299, extra: 1}, {DAG: "zzz", DAG_RUN: "bbb"})

    differences = compare(RECORDED, restored)

    assert differences == [
        Difference(DAG_RUN, "rows", 300, 299),
        Difference(extra, "rows", None, 1),
        Difference(VARIABLE, "rows", 3, None),
        Difference(DAG, "checksum", "aaa", "zzz"),
    ]
    assert describe_differences(differences).splitlines() == [
        "  - public.dag_run: rows expected 300, got 299",
        "  - public.surprise: rows expected no such table, got 1",
        "  - public.variable: rows expected 3, got no such table",
        "  - public.dag: checksum expected aaa, got zzz",
    ]


def test_a_checksummed_table_missing_after_restore_is_a_difference_of_both_measures() -> None:
    restored = fingerprint({DAG_RUN: 300, VARIABLE: 3}, {DAG_RUN: "bbb"})

    assert compare(RECORDED, restored) == [
        Difference(DAG, "rows", 5, None),
        Difference(DAG, "checksum", "aaa", None),
    ]


# Which tables are checksummed.

FOUND = [DAG, DAG_RUN, TableName("audit", "dag"), TableName("odd.schema", "t")]


def test_bare_names_match_in_any_schema_qualified_names_exactly_missing_ones_not_at_all() -> None:
    assert select_tables(FOUND, ["dag"]) == [TableName("audit", "dag"), DAG]
    assert select_tables(FOUND, ["public.dag"]) == [DAG]
    assert select_tables(FOUND, ["odd.schema.t"]) == [TableName("odd.schema", "t")]
    assert select_tables(FOUND, [TableName("audit", "dag")]) == [TableName("audit", "dag")]
    assert select_tables(FOUND, ["slot_pool", "public.nothing"]) == []
    assert select_tables(FOUND, DEFAULT_CHECKSUM_TABLES) == [
        TableName("audit", "dag"),
        DAG,
        DAG_RUN,
    ]


def test_queries_quote_every_identifier_and_index_their_answers() -> None:
    odd = TableName('we"ird', "x; drop table dag")

    assert odd.sql() == '"we""ird"."x; drop table dag"'
    assert 'from only "we""ird"."x; drop table dag"' in row_counts_sql([DAG, odd])
    assert row_counts_sql([DAG, odd]).count("union all") == 1
    assert "select 1 as i" in checksums_sql([DAG, odd])
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("back\\slash") == "E'back\\\\slash'"


# The manifest.


def manifest() -> Manifest:
    return Manifest(
        dump_key="metadata-db/airflow/2026/03/08/airflow-20260308T033000Z.dump",
        database="airflow",
        sha256="ab" * 32,
        size=1234,
        taken_at=datetime(2026, 3, 8, 3, 30, tzinfo=UTC),
        server_version="17.2",
        fingerprint=RECORDED,
    )


def test_manifest_round_trips_through_its_json_beside_the_dump_key() -> None:
    original = manifest()

    assert Manifest.from_json(original.to_json()) == original
    assert manifest_key(original.dump_key) == original.dump_key + ".manifest.json"


def test_manifest_of_another_format_or_version_is_refused_saying_which() -> None:
    text = manifest().to_json().decode()

    with pytest.raises(ManifestError, match="version 2; this code reads"):
        Manifest.from_json(text.replace('"version": 1', '"version": 2'))
    with pytest.raises(ManifestError, match="not a valid manifest"):
        Manifest.from_json(text.replace('"sha256"', '"sha"'))
    with pytest.raises(ManifestError, match="not a valid manifest"):
        Manifest.from_json(b"not json")


# The stack and the metrics.


def test_stack_comes_from_the_option_before_the_variable() -> None:
    assert resolve_stack({"stack": "prod"}.get, {"platform_stack": "other"}.get) == "prod"
    assert resolve_stack({"stack": " "}.get, {"platform_stack": "dev"}.get) == "dev"


def test_no_stack_fails_naming_both_places_to_set_it() -> None:
    with pytest.raises(BackupConfigError) as raised:
        resolve_stack({}.get, {}.get)

    assert "[platform] stack" in str(raised.value)
    assert "'platform_stack'" in str(raised.value)


def test_checksum_tables_come_from_a_comma_separated_variable() -> None:
    variables = {"platform_backup_bucket": "b", CHECKSUM_TABLES_VARIABLE: " dag, audit.log ,,"}

    assert resolve_options(variables.get, {}.get).checksum_tables == ("dag", "audit.log")
    assert resolve_options({"platform_backup_bucket": "b"}.get, {}.get).checksum_tables == (
        DEFAULT_CHECKSUM_TABLES
    )


def test_metric_dimensions_are_stack_then_database_or_database_alone_without_a_stack() -> None:
    assert metrics.dimensions("airflow", "prod") == [
        {"Name": "Stack", "Value": "prod"},
        {"Name": "Database", "Value": "airflow"},
    ]
    assert metrics.dimensions("airflow") == [{"Name": "Database", "Value": "airflow"}]


def test_metric_names_and_namespace_are_the_ones_alarms_are_written_against() -> None:
    assert metrics.NAMESPACE == "AirflowPlatform/Backups"
    assert metrics.BACKUP_METRICS == ("LastSuccessTimestamp", "SizeBytes", "DurationSeconds")
    assert metrics.RESTORE_DRILL_METRICS == (
        "RestoreDrillSuccess",
        "RestoreDrillDurationSeconds",
        "RestoreDrillLastSuccessTimestamp",
    )
