"""A stand-in for MWAA's CLI path, on loopback over TLS, that runs the real Airflow CLI.

MWAA's side of `airflow db clean` on an environment is two calls: the control plane's
CreateCliToken (`POST /clitoken/<name>`, answering a token valid for one request and the
web server's host name) and the web server's CLI endpoint (`POST /aws_mwaa/cli` with the
token as a bearer and the command as the text body, answering JSON with base64 `stdout` and
`stderr`, status 200 whatever the command's exit status). moto has no MWAA, so this server
plays both, and runs each command with the pinned Airflow's own `airflow` executable against
a real metadata database (the embedded PostgreSQL): what the command does to the database is
Airflow's, not the test's.

Clients reach it the way they reach AWS: `AWS_ENDPOINT_URL_MWAA` for boto3 (with
`AWS_DISABLE_HOST_PREFIX_INJECTION`, since MWAA's API prefixes the host with `env.`),
`AWS_CA_BUNDLE` / `REQUESTS_CA_BUNDLE` for the self-signed certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
import shlex
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# What MWAA lets through its CLI endpoint for this use; anything else is refused as MWAA does.
ALLOWED_COMMANDS = {("db", "clean")}


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "mwaa-cert.pem", directory / "mwaa-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class MwaaCliServer(ThreadingHTTPServer):
    """One MWAA environment named `environment` whose metadata database is `database_url`."""

    def __init__(self, environment: str, database_url: str, directory: Path) -> None:
        self.environment = environment
        self.database_url = database_url
        self.tokens: set[str] = set()
        self.commands: list[str] = []
        self.cert_path, key_path = self_signed_certificate(directory)
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def start(self) -> MwaaCliServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def client_environment(self) -> dict[str, str]:
        """What a boto3 + requests client needs to reach this server as it would AWS."""
        return {
            "AWS_ENDPOINT_URL_MWAA": self.endpoint,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_CA_BUNDLE": str(self.cert_path),
            "REQUESTS_CA_BUNDLE": str(self.cert_path),
        }

    def run_airflow(self, argv: list[str]) -> tuple[bytes, bytes]:
        env = dict(os.environ)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        done = subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), *argv],
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        return done.stdout, done.stderr


class _Handler(BaseHTTPRequestHandler):
    server: MwaaCliServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/clitoken/"):
            self._create_cli_token(self.path.removeprefix("/clitoken/"))
        elif self.path == "/aws_mwaa/cli":
            self._cli(body.decode())
        else:
            self._answer(404, {"message": f"no route {self.path}"})

    def _create_cli_token(self, name: str) -> None:
        if name != self.server.environment:
            self._answer(
                404,
                {"message": f"Environment {name} not found"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
            return
        token = secrets.token_urlsafe(24)
        self.server.tokens.add(token)
        host = f"127.0.0.1:{self.server.server_address[1]}"
        self._answer(200, {"CliToken": token, "WebServerHostname": host})

    def _cli(self, command: str) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.server.tokens:
            self._answer(403, {"message": "invalid or used CLI token"})
            return
        self.server.tokens.discard(token)  # one request per token
        argv = shlex.split(command)
        if tuple(argv[:2]) not in ALLOWED_COMMANDS:
            self._answer(400, {"message": f"command not supported: {argv[:2]}"})
            return
        self.server.commands.append(command)
        stdout, stderr = self.server.run_airflow(argv)
        self._answer(
            200,
            {
                "stdout": base64.b64encode(stdout).decode(),
                "stderr": base64.b64encode(stderr).decode(),
            },
        )

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass
