"""What `health` and `dags list|trigger` share: how a command reaches a stack's Airflow REST
API, and the options that say so.

* `--url URL`: plain HTTP(S) to that API server (an eks stack's, from inside the VPC or through
  `kubectl port-forward`), authenticated by `--token` (a JWT), or by `--username` with the
  password in AIRFLOW_PLATFORM_API_PASSWORD, exchanged at `POST /auth/token` for a JWT.
* no `--url`, an mwaa stack (the stack file's `platform`): MWAA's InvokeRestApi on environment
  `airflow-<stack>`, in the stack's region, authenticated by the caller's AWS credentials
  (IAM maps them to an Airflow role).
* no `--url`, an eks stack: refused, saying why: the API server is reachable only inside the
  stack's VPC.

Tokens and passwords are never printed: not in messages, not in tables.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airflow_platform.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    aws_session,
    fail,
    stack_settings,
)

if TYPE_CHECKING:
    from airflow_platform.airflow_api import AirflowApi, ApiError

PASSWORD_VARIABLE = "AIRFLOW_PLATFORM_API_PASSWORD"  # noqa: S105 (its name, not a password)
DEFAULT_TIMEOUT = 30.0
# The chart's API server Service (release `airflow-<stack>`, namespace `airflow`: see
# components/airflow_eks.py) and its port.
_PORT_FORWARD = "kubectl port-forward -n airflow svc/airflow-{stack}-api-server 8080:8080"

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="AIRFLOW_PLATFORM_API_URL",
        metavar="URL",
        help="The Airflow API server's base URL (without /api/v2), reached over HTTP(S). "
        "Default: an mwaa stack's environment through MWAA's InvokeRestApi (AWS credentials); "
        "required for eks stacks, whose API server is reachable only inside the VPC (for "
        "example through kubectl port-forward).",
        show_default=False,
    ),
]
ApiToken = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="AIRFLOW_PLATFORM_API_TOKEN",
        metavar="TOKEN",
        help="A JWT for --url, sent as a bearer token. Prefer the variable: a flag shows in "
        "the process list. Never printed.",
        show_default=False,
    ),
]
ApiUsername = Annotated[
    str | None,
    typer.Option(
        "--username",
        envvar="AIRFLOW_PLATFORM_API_USERNAME",
        metavar="USER",
        help=f"Log in to --url as USER (POST /auth/token) with the password in {PASSWORD_VARIABLE} "
        "(asked for on a terminal when unset); instead of --token.",
        show_default=False,
    ),
]
ApiTimeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        envvar="AIRFLOW_PLATFORM_API_TIMEOUT",
        metavar="SECONDS",
        help="How long to wait for each answer from Airflow (1-300).",
        min=1,
        max=300,
    ),
]


def _password(username: str) -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return typer.prompt(f"password of {username}", hide_input=True)
    raise fail(
        f"--username {username} needs a password: set {PASSWORD_VARIABLE} (or run on a "
        "terminal to be asked), or pass --token instead",
        EXIT_USAGE,
    )


def _http_api(url: str, timeout: float, token: str | None, username: str | None) -> AirflowApi:
    from health_probe.transports import HttpTransport

    from airflow_platform.airflow_api import AirflowApi, ApiError, login

    if token and username:
        raise fail(
            "give one of --token (AIRFLOW_PLATFORM_API_TOKEN) and --username "
            "(AIRFLOW_PLATFORM_API_USERNAME), not both",
            EXIT_USAGE,
        )
    try:
        transport = HttpTransport(url, timeout)
    except ValueError as error:
        raise fail(f"--url: {error}", EXIT_USAGE) from None
    if username:
        password = _password(username)
        try:
            token = login(transport, username, password)
        except ApiError as error:
            code = EXIT_USAGE if error.status in (400, 401, 403) else EXIT_FAILED
            raise fail(f"cannot log in: {error}", code) from None
    return AirflowApi(transport.with_token(token) if token else transport)


@contextmanager
def airflow_api(
    stack: str,
    url: str | None,
    timeout: float,
    project_dir: Path | None,
    token: str | None = None,
    username: str | None = None,
) -> Iterator[AirflowApi]:
    """The stack's Airflow API, as the module docstring says; exits 2 when it cannot be
    reached from here (an eks stack without --url, an unreadable stack file, no AWS region
    or credentials for MWAA, a refused login)."""
    if url:
        yield _http_api(url, timeout, token, username)
        return
    from airflow_platform.airflow_settings import environment_name
    from airflow_platform.config.model import Platform

    try:
        settings = stack_settings(stack, project_dir)
    except ValueError as error:
        raise fail(f"{error}; or pass --url", EXIT_USAGE) from None
    if settings.platform is not Platform.MWAA:
        raise fail(
            f"stack {stack} runs Airflow on {settings.platform}: its API server is reachable "
            "only inside the stack's VPC. Pass --url with a URL that reaches it, for example "
            f"`{_PORT_FORWARD.format(stack=stack)}` and then --url http://127.0.0.1:8080",
            EXIT_USAGE,
        )
    from health_probe.transports import MwaaTransport, mwaa_client

    from airflow_platform.airflow_api import AirflowApi

    with aws_session(settings.region) as session:
        client = mwaa_client(timeout, settings.region, session)
        yield AirflowApi(MwaaTransport(environment_name(stack), client))


def api_failure(error: ApiError, uses_token: bool = False) -> typer.Exit:
    """Print `error` with what to do about it; the exit (2 for a refused authentication,
    else 1) to raise."""
    message = str(error)
    if error.status == 401:
        hint = (
            "the token was refused: pass a valid one, or --username"
            if uses_token
            else f"authenticate: pass --token, or --username with {PASSWORD_VARIABLE}"
        )
        return fail(f"{message} ({hint})", EXIT_USAGE)
    if error.status == 403:
        return fail(
            f"{message} (the user, or through MWAA the Airflow role your IAM policy grants "
            "in airflow:InvokeRestApi's resource, may not do this)"
        )
    return fail(message)
