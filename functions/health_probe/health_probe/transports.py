"""Two ways to reach the Airflow REST API (/api/v2) of a stack, with one interface.

* `MwaaTransport`: MWAA's InvokeRestApi, IAM-authenticated, for mwaa stacks. Its `Path` is
  relative to the REST API's root (/api/v1 on Airflow 2, /api/v2 on Airflow 3), so the health
  endpoint is `Path="/monitor/health"`. Sources: the MWAA API Reference, "InvokeRestApi"
  (Path: "The Apache Airflow REST API endpoint path to be called. For example,
  /dags/123456/clearTaskInstances", 1-64 characters; Method GET | PUT | POST | PATCH |
  DELETE; https://docs.aws.amazon.com/mwaa/latest/API/API_InvokeRestApi.html); the MWAA User
  Guide, "Using the Apache Airflow REST API" (InvokeRestApi gives up after 10 seconds;
  answers are at most 6 MB;
  https://docs.aws.amazon.com/mwaa/latest/userguide/access-mwaa-apache-airflow-rest-api.html);
  and the Amazon provider's MwaaHook (airflow/providers/amazon/aws/hooks/mwaa.py, installed
  with the pinned Airflow), whose fallback makes the same call itself and requests
  `https://<web server>/api/{v1|v2}<Path>` with the same Path. botocore's model (mwaa
  2020-07-01): `POST /restapi/{Name}` on host `env.airflow.<region>`, answering
  RestApiStatusCode and RestApiResponse; Airflow's 4xx and 5xx answers arrive as
  RestApiClientException and RestApiServerException carrying the same two fields.
* `HttpTransport`: plain HTTP(S) to `<base URL>/api/v2<path>` with urllib, for eks stacks
  (from inside the VPC, or through a port-forward), with an optional bearer token.

Both answer an `ApiResponse` for any status Airflow itself answered, and raise
`TransportError` when no answer from Airflow came back (refused, timed out, a TLS or MWAA
error). Neither follows redirects: a bearer token must never travel to another host.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from health_probe.health import (
    API_PREFIX,
    HEALTH_PATH,
    HealthFormatError,
    HealthReport,
    parse_health,
)

USER_AGENT = "airflow-platform-health-probe"
MWAA_MAX_PATH = 64
"""InvokeRestApi's limit on Path (MWAA API Reference, InvokeRestApi)."""
_EXCERPT = 300


class TransportError(Exception):
    """No answer from Airflow: the message says where the request went and why it failed."""


@dataclass(frozen=True)
class ApiResponse:
    """What Airflow answered: the HTTP status, the JSON body (None when empty or not JSON)
    and the start of the raw text, for error messages."""

    status: int
    body: Any
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def detail(self) -> str:
        """Airflow's own explanation of an error (FastAPI's `detail`), else the text."""
        if isinstance(self.body, dict) and "detail" in self.body:
            detail = self.body["detail"]
            return detail if isinstance(detail, str) else json.dumps(detail)[:_EXCERPT]
        return self.text[:_EXCERPT] or "(no body)"


class Transport(Protocol):
    """A way to call the Airflow REST API; `path` is relative to /api/v2."""

    description: str
    max_path_length: int | None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> ApiResponse: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the answer instead of following it (with the token)."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


def _decode(raw: bytes) -> tuple[Any, str]:
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return None, ""
    try:
        return json.loads(text), text[:_EXCERPT]
    except ValueError:
        return None, text[:_EXCERPT]


class HttpTransport:
    """The Airflow API at `base_url` (scheme, host, port and any path prefix of the API
    server, without /api/v2), over urllib with a per-request `timeout` in seconds."""

    max_path_length: int | None = None

    def __init__(self, base_url: str, timeout: float, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"{base_url!r} is not an http(s) URL such as https://airflow.example.internal"
            )
        if parsed.username or parsed.password:
            raise ValueError("the API URL must not hold a user name or password")
        if parsed.query or parsed.fragment:
            raise ValueError(f"{base_url!r} has a query or fragment: give the API server's URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._opener = urllib.request.build_opener(_NoRedirect)
        self.description = self.base_url

    def with_token(self, token: str) -> HttpTransport:
        return HttpTransport(self.base_url, self.timeout, token)

    def url(self, path: str, query: dict[str, Any] | None = None, prefix: str = API_PREFIX) -> str:
        """`<base>/<prefix><path>?<query>`; list values repeat the key, as FastAPI reads them."""
        url = f"{self.base_url}{prefix}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        prefix: str = API_PREFIX,
    ) -> ApiResponse:
        """One request to `<base><prefix><path>`; `prefix=""` reaches routes outside
        /api/v2, such as the auth manager's /auth/token."""
        url = self.url(path, query, prefix)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # The scheme is http or https: __init__ refuses any other base URL.
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        where = f"{method} {url}"
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                parsed, text = _decode(answer.read())
                return ApiResponse(answer.status, parsed, text)
        except urllib.error.HTTPError as error:  # Airflow (or a proxy) answered with an error
            with error:
                parsed, text = _decode(error.read())
            if 300 <= error.code < 400:
                location = error.headers.get("Location", "?")
                text = f"redirected to {location} (not followed): give that URL instead"
                return ApiResponse(error.code, None, text)
            return ApiResponse(error.code, parsed, text)
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, TimeoutError):
                raise TransportError(f"{where}: no answer within {self.timeout:g} s") from None
            raise TransportError(f"{where}: cannot connect ({reason})") from None
        except TimeoutError:
            raise TransportError(f"{where}: no answer within {self.timeout:g} s") from None
        except (http.client.HTTPException, OSError) as error:
            raise TransportError(f"{where}: the connection failed ({error!r})") from None


class MwaaTransport:
    """The REST API of the MWAA environment `environment` through InvokeRestApi, with a
    boto3 `mwaa` client (see `mwaa_client`)."""

    max_path_length: int | None = MWAA_MAX_PATH

    def __init__(self, environment: str, client: Any) -> None:
        self.environment = environment
        self.client = client
        self.description = f"MWAA environment {environment} (InvokeRestApi)"

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> ApiResponse:
        from botocore.exceptions import BotoCoreError, ClientError

        if len(path) > MWAA_MAX_PATH:
            raise TransportError(
                f"{self.description}: the path {path!r} is longer than the {MWAA_MAX_PATH} "
                "characters InvokeRestApi accepts"
            )
        arguments: dict[str, Any] = {"Name": self.environment, "Method": method, "Path": path}
        if query:
            arguments["QueryParameters"] = query
        if body is not None:
            arguments["Body"] = body
        where = f"{self.description}: {method} {path}"
        try:
            answer = self.client.invoke_rest_api(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if "RestApiStatusCode" in error.response:  # Airflow answered 4xx/5xx
                document = error.response.get("RestApiResponse")
                return ApiResponse(
                    int(error.response["RestApiStatusCode"]),
                    document,
                    json.dumps(document)[:_EXCERPT] if document is not None else code,
                )
            message = error.response.get("Error", {}).get("Message", "")
            hint = ""
            if code == "AccessDeniedException":
                hint = (
                    " (the caller needs airflow:InvokeRestApi on "
                    f"arn:aws:airflow:<region>:<account>:role/{self.environment}/<Airflow role>)"
                )
            raise TransportError(f"{where}: {code}: {message}{hint}") from None
        except BotoCoreError as error:
            raise TransportError(f"{where}: {error}") from None
        document = answer.get("RestApiResponse")
        text = json.dumps(document)[:_EXCERPT] if document is not None else ""
        return ApiResponse(int(answer.get("RestApiStatusCode", 200)), document, text)


def mwaa_client(timeout: float, region: str | None = None, session: Any = None) -> Any:
    """A boto3 `mwaa` client that waits at most `timeout` seconds to connect and as long for
    an answer (MWAA's own InvokeRestApi timeout is 10 seconds), without retrying: a retried
    POST could trigger a DAG twice, and the probe's next run is a minute away. A request
    therefore ends within about twice `timeout`; the Lambda's timeout must exceed that."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return (session or boto3).client("mwaa", region_name=region, config=config)


def read_health(transport: Transport) -> tuple[HealthReport, float]:
    """Airflow's health through `transport`, and how long asking took (ms). Anything but a
    200 answer holding a JSON object is an unreachable Airflow, with the reason."""
    started = time.monotonic()
    try:
        answer = transport.request("GET", HEALTH_PATH)
    except TransportError as error:
        report = HealthReport.unreachable(str(error))
    else:
        if answer.status != 200:
            report = HealthReport.unreachable(
                f"{transport.description}: GET {HEALTH_PATH} answered {answer.status}: "
                f"{answer.detail()}"
            )
        else:
            try:
                report = parse_health(answer.body)
            except HealthFormatError as error:
                excerpt = answer.text[:80] or "an empty body"
                report = HealthReport.unreachable(
                    f"{transport.description}: GET {HEALTH_PATH}: {error} ({excerpt!r}); is "
                    "this the API server's URL?"
                )
    return report, (time.monotonic() - started) * 1000
