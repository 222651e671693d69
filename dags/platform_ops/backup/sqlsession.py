"""One long-lived `psql` as a SQL session: statements in on its stdin, one JSON line out per
query.

Why psql and not a Python driver: `airflow-platform backup` runs this package from the
operator's virtualenv, which has boto3 but no PostgreSQL driver, while psql ships in the same
client package as the pg_dump and pg_restore the backup already needs (and is found the same
way, in `--pg-bin-dir` / `AIRFLOW_PLATFORM_PG_BIN_DIR` or on PATH). A *session* rather than one
psql per query, because the backup's counts must run in the very transaction whose snapshot
pg_dump imports.

Every query returns exactly one row of one `jsonb` value: jsonb's text has no raw newline, so
one line of psql's unaligned, tuples-only output is one complete answer, whatever the table
names hold. psql writes each result as soon as the query ends, and with `ON_ERROR_STOP` it
exits on the first error: the reader then sees end-of-file and the error is psql's stderr.
"""

from __future__ import annotations

import io
import json
import subprocess
from types import TracebackType
from typing import Any

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.errors import BackupError
from platform_ops.backup.pgtools import ClientProcess
from platform_ops.backup.verify import close_quietly, write_all

PSQL_ARGS = [
    "--no-psqlrc",
    "--quiet",
    "--tuples-only",
    "--no-align",
    "--set=ON_ERROR_STOP=1",
]


class SqlSession:
    """A psql process connected to `conn`; `settings` are SET first (name -> value)."""

    def __init__(self, psql: str, conn: ConnInfo, settings: dict[str, str] | None = None) -> None:
        self.conn = conn
        self._client = ClientProcess(
            psql, PSQL_ARGS, conn, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self._client.process.stdout is not None
        self._stdout = io.BufferedReader(self._client.process.stdout)  # type: ignore[arg-type]
        for name, value in (settings or {}).items():
            self.execute(f"set {name} = {quote_literal(value)}")

    def execute(self, sql: str) -> None:
        """Send statements that return nothing; an error shows at the next `query`."""
        stdin = self._client.process.stdin
        assert stdin is not None
        if not write_all(stdin, (sql.rstrip().rstrip(";") + ";\n").encode()):
            raise self._ended()

    def query(self, sql: str) -> Any:
        """The one jsonb value `sql` selects, decoded."""
        self.execute(sql)
        line = self._stdout.readline()
        if not line.endswith(b"\n"):
            raise self._ended()
        return json.loads(line)

    def sync(self) -> None:
        """Wait until every statement sent so far has run (and raise if one failed)."""
        self.query("select 'null'::jsonb")

    def close(self, timeout: float = 60) -> None:
        """End the session normally (an open transaction ends with it, committing nothing)."""
        close_quietly(self._client.process.stdin)
        try:
            code = self._client.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._client.kill()
            raise BackupError(f"psql did not end within {timeout:.0f} s and was killed") from None
        if code != 0:
            raise BackupError(self._client.failure())

    def kill(self) -> None:
        """Stop psql now; the server rolls back its transaction. Safe to call twice."""
        close_quietly(self._client.process.stdin)
        self._client.kill()

    def _ended(self) -> BackupError:
        """psql has gone (connection refused, an error under ON_ERROR_STOP): why, as an error."""
        try:
            self._client.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._client.kill()
        return BackupError(self._client.failure())

    def __enter__(self) -> SqlSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.kill()


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (any characters)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """`value` as a standard SQL string literal (standard_conforming_strings is on since 9.1;
    a value with a backslash gets the E'' form so it reads the same either way)."""
    quoted = "'" + value.replace("'", "''") + "'"
    if "\\" in value:
        return "E" + quoted.replace("\\", "\\\\")
    return quoted
