"""A source database with the awkward cases, and a fingerprint to compare two databases.

Seeded: unicode text (combining marks, right-to-left, emoji, quotes, tabs, newlines, empty
strings), NULLs, bytea, arrays and jsonb, numeric edge values (NaN, +/-Infinity, thousands of
digits), float edge values (-0.0, NaN, Infinity, subnormal, max), 120,000 event rows, large
objects (16 MiB of random bytes, a small one, an empty one), a sequence, a view, an index.
The dump is about 20 MiB: several 5 MiB parts.
"""

from __future__ import annotations

import os
import random
from typing import Any

import psycopg

EVENT_ROWS = 120_000
BIG_OBJECT_BYTES = 16 * 1024 * 1024
NAMES = [
    "Zoë Ångström",
    "東京都",
    "مرحبا بالعالم",
    "🙂👍🏽 family: 👨‍👩‍👧",
    "e\u0301 combining",
    "",
    "tab\there",
    "quote' double\" backslash\\",
    "new\nline",
    "Ω≈ç√∫",
]

SCHEMA = """
create table people (
    id int primary key, name text not null, note text, photo bytea, born date,
    score double precision, tags text[], doc jsonb
);
create table numbers (id int primary key, n numeric, f double precision, r real);
create table events (id bigint primary key, kind text not null, payload text, at timestamptz);
create index events_kind on events (kind);
create table files (id int primary key, content oid not null);
create sequence ticket_seq;
create view recent_events as select id, kind from events where id > 100000;
"""

NUMBERS = [
    ("NaN", "NaN", "NaN"),
    ("Infinity", "Infinity", "Infinity"),
    ("-Infinity", "-Infinity", "-Infinity"),
    ("0", "-0", "-0"),
    ("-0.0000", "0", "0"),
    ("9" * 1000 + "." + "1" * 1000, "1.7976931348623157e308", "3.4028235e38"),
    ("-" + "1" * 131 + "." + "7" * 16383, "5e-324", "1e-45"),
    ("0.000000000000000000000000000001", "2.2250738585072014e-308", "1.17549435e-38"),
    (None, None, None),
]


def seed_database(conn: psycopg.Connection[Any]) -> None:
    rng = random.Random(4)
    with conn.transaction():
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into people values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        i,
                        NAMES[i % len(NAMES)] + f" #{i}",
                        None if i % 3 == 0 else NAMES[(i * 7) % len(NAMES)],
                        None if i % 4 == 0 else rng.randbytes(rng.randint(0, 300)),
                        None if i % 5 == 0 else f"19{i % 100:02d}-0{1 + i % 9}-1{i % 10}",
                        [-0.0, float("nan"), float("inf"), 1 / 3, None][i % 5],
                        None if i % 6 == 0 else [NAMES[i % 3], "", None],
                        None
                        if i % 7 == 0
                        else psycopg.types.json.Jsonb({"i": i, "n": NAMES[i % 4]}),
                    )
                    for i in range(1, 2001)
                ],
            )
            cur.executemany(
                "insert into numbers values (%s, %s::numeric, %s::float8, %s::real)",
                [(i, *row) for i, row in enumerate(NUMBERS, start=1)],
            )
        conn.execute(
            "insert into events select g, (array['start','stop','retry','fail'])[1 + g %% 4],"
            " md5(g::text) || repeat(chr(945 + g %% 20), g %% 7),"
            " timestamptz '2024-01-01 00:00+00' + g * interval '1 second'"
            " from generate_series(1, %s) g",
            (EVENT_ROWS,),
        )
        conn.execute(
            "insert into files values (1, lo_from_bytea(0, %s)), (2, lo_from_bytea(0, %s)),"
            " (3, lo_from_bytea(0, ''))",
            (os.urandom(BIG_OBJECT_BYTES), "small large object ✓".encode()),
        )
        conn.execute("select setval('ticket_seq', 42)")


def fingerprint(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Per-table row count and md5 of all rows in id order; large objects' md5 and size;
    sequences, views and indexes. Two databases with equal fingerprints hold the same data."""
    result: dict[str, Any] = {}
    tables = [r[0] for r in conn.execute(
        "select tablename from pg_tables where schemaname = 'public' order by 1")]  # fmt: skip
    for table in tables:
        result[f"table {table}"] = conn.execute(
            f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t.id), ''))"
            f" from {table} t"
        ).fetchone()
    result["large objects"] = conn.execute(
        "select oid, length(lo_get(oid)), md5(lo_get(oid)) from pg_largeobject_metadata"
        " order by oid"
    ).fetchall()
    result["sequences"] = conn.execute(
        "select sequencename, last_value from pg_sequences order by 1"
    ).fetchall()
    result["views"] = conn.execute(
        "select viewname, definition from pg_views where schemaname = 'public' order by 1"
    ).fetchall()
    result["indexes"] = conn.execute(
        "select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1"
    ).fetchall()
    return result
