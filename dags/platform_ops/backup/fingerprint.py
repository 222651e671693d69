"""A database's fingerprint: the row count of every table and the checksum of a few, taken by
the backup in the dump's own snapshot and taken again by the restore drill from the restored
copy. One definition (this module's SQL, run through `SqlSession` with `SESSION_SETTINGS`)
serves both, so a difference means the data differs, not the way it was measured.

Which tables: every ordinary table (relkind `r`, partitions included, partitioned parents
not, since their rows are their partitions') outside `information_schema` and the `pg_*`
schemas, except tables that belong to an extension: pg_dump does not dump their rows,
`CREATE EXTENSION` recreates them. Counts use `ONLY`, so a parent in an inheritance tree
counts its own rows and each child its own.

The checksum of a table is the md5 of `<rows>:<sum of the first 64 bits of md5(row text)>:
<sum of the last 64 bits>`. Summing per-row hashes makes it independent of row order, so it
needs no sort and no memory beyond one row (an ordered `string_agg` of the rows would sort
the table and stop at PostgreSQL's 1 GB limit on one value); the row count in it catches a
duplicated row. A row's text depends on session settings (time zone, date and interval
styles, float digits, bytea format, monetary locale): `SESSION_SETTINGS` pins every one, and
both sides set the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.sqlsession import SqlSession, quote_identifier

DEFAULT_CHECKSUM_TABLES = ("dag", "dag_run", "slot_pool", "variable")
"""Airflow metadata tables checksummed by default (those that exist: on mwaa stacks the
backed-up database is the DAGs' own and has none of them, and only counts are recorded)."""

TEXT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "lc_monetary": "C",
    "client_encoding": "UTF8",
}
"""The settings a row's text depends on, pinned so it reads the same after a restore."""

SESSION_SETTINGS = {
    **TEXT_SETTINGS,
    # As pg_dump does: an error rather than silently fewer rows under row-level security,
    # and no server-side timeout cutting a count of a large table short.
    "row_security": "off",
    "statement_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
}

CHECKSUM_METHOD = (
    "md5(<rows>:<sum of first 64 bits of md5(row::text)>:<sum of last 64 bits>), "
    "rows in any order, session settings pinned"
)

_LIST_TABLES_SQL = """
select coalesce(jsonb_agg(jsonb_build_array(n.nspname, c.relname)), '[]'::jsonb)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r'
  and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
  and not exists (
    select from pg_depend d
    where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
"""


@dataclass(frozen=True, order=True)
class TableName:
    """A table, by schema and name (either may hold any character)."""

    schema: str
    table: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        """`schema.table`, split at the first dot (how the manifest and messages write it)."""
        schema, dot, table = text.partition(".")
        if not dot or not schema or not table:
            raise ValueError(f"expected <schema>.<table>, got {text!r}")
        return cls(schema, table)

    def sql(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.table)}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class Fingerprint:
    """Row counts of every table, checksums of some."""

    rows: dict[TableName, int]
    checksums: dict[TableName, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": [
                {"schema": t.schema, "table": t.table, "rows": n}
                for t, n in sorted(self.rows.items())
            ],
            "checksums": [
                {"schema": t.schema, "table": t.table, "checksum": c}
                for t, c in sorted(self.checksums.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        rows = {TableName(e["schema"], e["table"]): int(e["rows"]) for e in data["tables"]}
        checksums = {
            TableName(e["schema"], e["table"]): str(e["checksum"]) for e in data["checksums"]
        }
        return cls(rows, checksums)


@dataclass(frozen=True)
class Difference:
    """One way the restored data differs from the recorded fingerprint."""

    table: TableName
    measure: str
    """"rows" or "checksum"."""
    expected: int | str | None
    """None: the table is not in the recorded fingerprint."""
    got: int | str | None
    """None: the table is missing from the restored database."""

    def __str__(self) -> str:
        expected = "no such table" if self.expected is None else self.expected
        got = "no such table" if self.got is None else self.got
        return f"{self.table}: {self.measure} expected {expected}, got {got}"


def select_tables(found: Iterable[TableName], wanted: Iterable[str | TableName]) -> list[TableName]:
    """The tables of `found` that `wanted` names: a `TableName` exactly, a string as
    `schema.table` when it names one exactly, else as a table name in any schema. Names that
    match nothing are left out (the default list names Airflow's tables, which a database
    may not have)."""
    found = sorted(set(found))
    chosen: set[TableName] = set()
    for name in wanted:
        if isinstance(name, TableName):
            chosen.update(t for t in found if t == name)
            continue
        exact = [t for t in found if str(t) == name]
        chosen.update(exact or [t for t in found if t.table == name])
    return sorted(chosen)


def list_tables(session: SqlSession) -> list[TableName]:
    """The tables a fingerprint covers, in the session's current snapshot."""
    return sorted(TableName(schema, table) for schema, table in session.query(_LIST_TABLES_SQL))


def row_counts_sql(tables: Sequence[TableName]) -> str:
    """One query: `[[index, rows], ...]` for `tables` (at least one)."""
    # Identifiers are quoted by TableName.sql(), indexes are ints: nothing else is spliced.
    parts = [
        f"select {i} as i, count(*) as v from only {t.sql()}"  # noqa: S608 - quoted identifiers
        for i, t in enumerate(tables)
    ]
    return _indexed(parts)


def checksums_sql(tables: Sequence[TableName]) -> str:
    """One query: `[[index, checksum], ...]` for `tables` (at least one)."""
    parts = [
        f"select {i} as i, md5(count(*) || ':'"  # noqa: S608 - quoted identifiers
        " || coalesce(sum(('x' || left(h, 16))::bit(64)::bigint), 0) || ':'"
        " || coalesce(sum(('x' || right(h, 16))::bit(64)::bigint), 0)) as v"
        # (r.*), not r: a bare `r` would mean a column named r if the table had one.
        f" from (select md5((r.*)::text) as h from only {t.sql()} r) s"
        for i, t in enumerate(tables)
    ]
    return _indexed(parts)


def _indexed(parts: list[str]) -> str:
    union = "\n  union all ".join(parts)
    return f"select jsonb_agg(jsonb_build_array(i, v)) from (\n  {union}\n) x"  # noqa: S608


def lock_tables(session: SqlSession, tables: Sequence[TableName]) -> None:
    """ACCESS SHARE locks on `tables` until the session's transaction ends, as pg_dump takes.

    TRUNCATE and table rewrites are not MVCC-safe: a table truncated after the snapshot reads
    as empty in it. Locked right after the snapshot is exported, no table can be truncated
    or rewritten before every count has run (writes of rows are not blocked)."""
    if tables:
        names = ", ".join(t.sql() for t in tables)
        session.execute(f"lock table only {names} in access share mode")
        session.sync()


def take_fingerprint(
    session: SqlSession,
    checksum_tables: Iterable[str | TableName],
    tables: Sequence[TableName] | None = None,
) -> Fingerprint:
    """Count every table (`tables`, default: `list_tables`) and checksum those of
    `checksum_tables` that exist, in the session's transaction (open one first for a
    consistent answer). The session must have been opened with `SESSION_SETTINGS`."""
    tables = list_tables(session) if tables is None else sorted(tables)
    rows: dict[TableName, int] = {}
    if tables:
        rows = {tables[i]: int(n) for i, n in session.query(row_counts_sql(tables))}
    chosen = select_tables(tables, checksum_tables)
    checksums: dict[TableName, str] = {}
    if chosen:
        checksums = {chosen[i]: str(c) for i, c in session.query(checksums_sql(chosen))}
    return Fingerprint(rows, checksums)


def open_fingerprint_session(psql: str, conn: ConnInfo) -> SqlSession:
    """A session with `SESSION_SETTINGS`, inside a read-only repeatable-read transaction (one
    snapshot for every count and checksum); the caller ends it."""
    session = SqlSession(psql, conn, SESSION_SETTINGS)
    session.execute("begin transaction isolation level repeatable read, read only")
    return session


def compare(expected: Fingerprint, got: Fingerprint) -> list[Difference]:
    """Every difference, table by table: counts of all tables in either, checksums of the
    tables `expected` checksummed."""
    differences = []
    for table in sorted(set(expected.rows) | set(got.rows)):
        want, have = expected.rows.get(table), got.rows.get(table)
        if want != have:
            differences.append(Difference(table, "rows", want, have))
    for table in sorted(expected.checksums):
        want_sum, have_sum = expected.checksums[table], got.checksums.get(table)
        if want_sum != have_sum:
            differences.append(Difference(table, "checksum", want_sum, have_sum))
    return differences


def server_version(session: SqlSession) -> str:
    return str(session.query("select to_jsonb(current_setting('server_version'))"))


def export_snapshot(session: SqlSession) -> str:
    """Export the session's transaction snapshot for `pg_dump --snapshot`."""
    return str(session.query("select to_jsonb(pg_export_snapshot())"))
