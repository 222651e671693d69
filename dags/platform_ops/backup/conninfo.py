"""PostgreSQL connection strings: parse a libpq URI or key=value DSN, keep the password out
of argv and out of every message.

pg_dump, pg_restore and psql get the connection as a key=value conninfo *without* the
password (`--dbname=...` is visible in `ps`), and the password through `PGPASSWORD` in the
child's environment only. Messages name a connection by `masked()`: the URI with `***` for
the password.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

_URI_SCHEMES = ("postgresql://", "postgres://")
# key = value, the value bare or single-quoted with \\ and \' escapes (libpq's grammar).
_KEYWORD_VALUE = re.compile(r"\s*(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)*))")
DEFAULT_APPLICATION_NAME = "airflow-platform"


class ConnInfoError(ValueError):
    """The connection string cannot be parsed (the message never repeats the password)."""


@dataclass(frozen=True)
class ConnInfo:
    """libpq connection parameters (keyword -> value), password included."""

    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, dsn: str) -> ConnInfo:
        """Parse `postgresql://user:pw@host:port/db?sslmode=require` or `host=... dbname=...`."""
        text = dsn.strip()
        if text.startswith(_URI_SCHEMES):
            return cls(_parse_uri(text))
        return cls(_parse_keyword_value(text))

    @property
    def password(self) -> str | None:
        return self.params.get("password") or None

    @property
    def database(self) -> str:
        """The database libpq connects to: dbname, else PGDATABASE, else the user name."""
        return (
            self.params.get("dbname")
            or os.environ.get("PGDATABASE")
            or self.params.get("user")
            or os.environ.get("PGUSER")
            or getpass.getuser()
        )

    def with_database(self, name: str) -> ConnInfo:
        """The same server and credentials, another database."""
        return ConnInfo({**self.params, "dbname": name})

    def libpq_argument(self) -> str:
        """key='value' conninfo for `--dbname=`: everything but the password."""
        params = {"application_name": DEFAULT_APPLICATION_NAME, **self.params}
        params.pop("password", None)
        return " ".join(f"{key}={_quote(value)}" for key, value in params.items())

    def dsn(self) -> str:
        """The whole key=value conninfo, password included: for handing to `BackupSettings`
        in process, never for argv or messages."""
        return " ".join(f"{key}={_quote(value)}" for key, value in self.params.items())

    def child_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a libpq client: the password, if any, as PGPASSWORD."""
        env = dict(os.environ if base is None else base)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def masked(self) -> str:
        """`postgresql://user:***@host:port/db?...` for messages; the password never shows."""
        params = dict(self.params)
        user = params.pop("user", "")
        has_password = params.pop("password", None) is not None
        host = params.pop("host", "")
        port = params.pop("port", "")
        dbname = params.pop("dbname", "")
        auth = quote(user, safe="")
        if has_password:
            auth += ":***"
        netloc = f"{auth}@" if auth else ""
        netloc += ",".join(
            _host_port(h, p) for h, p in zip(host.split(","), _ports(port, host), strict=True)
        )
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return f"postgresql://{netloc}/{quote(dbname, safe='')}" + (f"?{query}" if query else "")

    def redact(self, text: str) -> str:
        """`text` (say, a client's stderr) with every occurrence of the password masked."""
        return text.replace(self.password, "***") if self.password else text

    def __repr__(self) -> str:
        return f"ConnInfo({self.masked()!r})"

    __str__ = masked


def _quote(value: str) -> str:
    if value and re.fullmatch(r"[^\s'\\]+", value):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _ports(port: str, host: str) -> list[str]:
    hosts = host.split(",")
    ports = port.split(",") if port else [""]
    return ports * len(hosts) if len(ports) == 1 else ports


def _host_port(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host else quote(host, safe="/")
    return f"{shown}:{port}" if port else shown


def _parse_keyword_value(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(text.rstrip()):
        match = _KEYWORD_VALUE.match(text, position)
        if match is None:
            raise ConnInfoError(
                f"cannot parse the connection string near character {position}: expected "
                "key=value pairs or a postgresql:// URI"
            )
        key, quoted, bare = match.groups()
        params[key] = re.sub(r"\\(.)", r"\1", quoted if quoted is not None else bare)
        position = match.end()
    return params


def _parse_uri(text: str) -> dict[str, str]:
    rest = text.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    params: dict[str, str] = {}
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
        user, has_password, password = userinfo.partition(":")
        if user:
            params["user"] = unquote(user)
        if has_password:
            params["password"] = unquote(password)
    hosts, ports = [], []
    for hostspec in filter(None, authority.split(",")):
        match = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(\d*))?", hostspec)
        if match is None:
            raise ConnInfoError("cannot parse the host list of the connection URI")
        hosts.append(unquote(match.group(1).strip("[]")))
        ports.append(match.group(2) or "")
    if hosts:
        params["host"] = ",".join(hosts)
    if any(ports):
        params["port"] = ",".join(ports)
    if path:
        params["dbname"] = unquote(path)
    params.update(parse_qsl(query, keep_blank_values=True))
    return params
