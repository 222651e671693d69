"""The probe's configuration: environment variables only, none of them secret.

| variable | meaning | default |
| --- | --- | --- |
| STACK | the stack's name, the `Stack` dimension of every metric | required |
| METRICS_NAMESPACE | where the probe publishes | AirflowPlatform/Health |
| MWAA_ENVIRONMENT | the MWAA environment to probe through InvokeRestApi | one of these two |
| AIRFLOW_API_URL | the API server's base URL, probed over HTTP(S) | one of these two |
| TIMEOUT_SECONDS | per request to Airflow, 1-60 | 10 |
| BACKUP_DATABASE | the `Database` dimension of the backup metrics | airflow |

A missing or invalid variable raises ConfigError naming it: the invocation fails, which the
function's Errors metric shows (a misconfigured probe must not look like a healthy one).
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from health_probe.metrics import NAMESPACE

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 60.0
DEFAULT_BACKUP_DATABASE = "airflow"

_STACK = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
# MWAA's rule for environment names (API Reference: 1-80 characters, [a-zA-Z][0-9a-zA-Z-_]*).
_MWAA_NAME = re.compile(r"[a-zA-Z][0-9a-zA-Z_-]{0,79}")


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class ProbeConfig:
    stack: str
    namespace: str = NAMESPACE
    mwaa_environment: str | None = None
    api_url: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    backup_database: str = DEFAULT_BACKUP_DATABASE

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ProbeConfig:
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            text = env.get(name, "").strip()
            return text or None

        stack = value("STACK")
        if stack is None:
            raise ConfigError("STACK is not set: set it to the stack's name, such as dev")
        if not _STACK.fullmatch(stack):
            raise ConfigError(
                f"STACK={stack!r} is not a stack name (lowercase letters, digits and hyphens)"
            )

        namespace = value("METRICS_NAMESPACE") or NAMESPACE
        if len(namespace) > 255 or namespace.startswith("AWS/") or not namespace.isascii():
            raise ConfigError(
                f"METRICS_NAMESPACE={namespace!r} is not a custom CloudWatch namespace "
                "(1-255 ASCII characters, not starting with AWS/)"
            )

        mwaa, url = value("MWAA_ENVIRONMENT"), value("AIRFLOW_API_URL")
        if (mwaa is None) == (url is None):
            raise ConfigError(
                "set exactly one of MWAA_ENVIRONMENT (an mwaa stack's environment name) and "
                "AIRFLOW_API_URL (an eks stack's API server URL)"
                + ("; both are set" if mwaa else "; neither is set")
            )
        if mwaa is not None and not _MWAA_NAME.fullmatch(mwaa):
            raise ConfigError(
                f"MWAA_ENVIRONMENT={mwaa!r} is not an MWAA environment name (1-80 characters: "
                "a letter, then letters, digits, hyphens and underscores)"
            )
        if url is not None:
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ConfigError(
                    f"AIRFLOW_API_URL={url!r} is not an http(s) URL such as "
                    "http://airflow-api-server.airflow.svc:8080"
                )
            if parsed.username or parsed.password:
                raise ConfigError(
                    "AIRFLOW_API_URL must not hold credentials (the health endpoint needs none)"
                )

        timeout_text = value("TIMEOUT_SECONDS")
        timeout = DEFAULT_TIMEOUT_SECONDS
        if timeout_text is not None:
            try:
                timeout = float(timeout_text)
            except ValueError:
                timeout = math.nan
            if not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
                raise ConfigError(
                    f"TIMEOUT_SECONDS={timeout_text!r} is not a number of seconds from 1 to "
                    f"{MAX_TIMEOUT_SECONDS:g}"
                )

        database = value("BACKUP_DATABASE") or DEFAULT_BACKUP_DATABASE
        return cls(
            stack=stack,
            namespace=namespace,
            mwaa_environment=mwaa,
            api_url=url,
            timeout_seconds=timeout,
            backup_database=database,
        )
