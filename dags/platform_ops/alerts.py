"""Failure alerts for the platform's DAGs: the Slack provider's webhook notifier and hook.

The webhook URL lives in the Airflow connection `SLACK_CONNECTION_ID` (type `slackwebhook`,
resolved through the secrets backend in production), never in code or DAG files. Anyone
holding the URL can post to the channel, so it is a secret: it never reaches a log line.

An alert is best effort. Whatever Slack does (refuses, answers 4xx/5xx or 429, never answers),
the callback neither raises nor takes longer than `ALERT_DEADLINE_SECONDS`; a failed delivery
is one warning naming the connection and the reason, never the URL.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from typing import Any
from urllib.error import URLError

SLACK_CONNECTION_ID = "slack_alerts"

FAILURE_TEXT = (
    ":red_circle: *{{ dag.dag_id }}.{{ ti.task_id }}* failed "
    "(try {{ ti.try_number }}, run `{{ run_id }}`)\n"
    "{{ exception | string | truncate(500) }}\n"
    "<{{ ti.log_url }}|task log>"
)

# The whole callback, from the task's failure to the callback's return.
ALERT_DEADLINE_SECONDS = 5.0
# slack_sdk's socket timeout. It bounds each connect and each read, not the request: two
# connect timeouts and the retry pause between them (below) still fit in the deadline.
SLACK_TIMEOUT_SECONDS = 2
# slack_sdk's default is one retry on connection errors, after a 0.5-1.5 s backoff; the pause
# is fixed here so that the retry fits in the deadline too.
CONNECTION_RETRY_PAUSE_SECONDS = 0.5

# Slack answers a rejected webhook post with a bare error code (`no_service`,
# `invalid_payload`, `channel_is_archived`, ...), which is worth logging; anything else (a
# proxy's or another server's error page) might echo the request path, so it is not logged.
_SLACK_ERROR_CODE = re.compile(r"[a-z_]{1,64}")

log = logging.getLogger(__name__)


def _silent_logger() -> logging.Logger:
    """The logger handed to slack_sdk's client, which logs the full webhook URL: at INFO when
    it retries, at DEBUG for every request. The provider hands it the hook's own logger, so at
    any usual level the secret would reach the task log. This one is outside logging's
    hierarchy (no configuration or root level can enable it) and has nothing enabled."""
    silent = logging.Logger(f"{__name__}.slack_sdk", level=logging.CRITICAL + 1)
    silent.propagate = False
    silent.disabled = True
    return silent


class SlackFailureAlert:
    """A failure callback that renders `text` and posts it to a Slack incoming webhook.

    The provider is imported when a task fails, not when the DAG file is parsed: importing
    it costs about 0.4 s (it pulls in libcst through the SDK's decorators), which the DAG
    processor would pay on every parse of every file using this alert (bench/dag_parse.py).

    `SlackWebhookNotifier` renders the text (the DAG's own Jinja environment, as before), and
    `SlackWebhookHook` sends it, built with a timeout, retry handlers and a logger of ours:
    the notifier passes no logger through and logs the URL itself at DEBUG after a post.
    """

    def __init__(self, slack_webhook_conn_id: str, text: str) -> None:
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.text = text

    def __call__(self, context: Any) -> None:
        started = time.monotonic()
        try:
            text = self._render(context)
        except Exception as error:
            self._undelivered(_reason(error))
            return

        failures: list[str] = []
        # Backstop: the socket timeout does not bound name resolution, the connection lookup
        # (secrets backend or API server, with their own retries), or a server trickling its
        # answer a byte at a time. A daemon thread waited on for the rest of the deadline does;
        # if it is still running, it is left behind and dies with the task's process.
        sender = threading.Thread(
            target=self._send,
            args=(text, failures),
            name=f"slack-alert-{self.slack_webhook_conn_id}",
            daemon=True,
        )
        sender.start()
        sender.join(max(0.0, ALERT_DEADLINE_SECONDS - (time.monotonic() - started)))
        if sender.is_alive():
            self._undelivered(f"timeout (no answer within {ALERT_DEADLINE_SECONDS:g} s)")
        elif failures:
            self._undelivered(failures[0])

    def _render(self, context: Any) -> str:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifier = SlackWebhookNotifier(
            slack_webhook_conn_id=self.slack_webhook_conn_id, text=self.text
        )
        notifier.render_template_fields(context)
        return notifier.text

    def _send(self, text: str, failures: list[str]) -> None:
        """Post `text`; on failure, append the reason to `failures` instead of raising: the
        caller may have stopped waiting, and an exception's text may carry the URL."""
        try:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
            from slack_sdk.http_retry import (
                ConnectionErrorRetryHandler,
                FixedValueRetryIntervalCalculator,
            )

            hook = SlackWebhookHook(
                slack_webhook_conn_id=self.slack_webhook_conn_id,
                timeout=SLACK_TIMEOUT_SECONDS,
                # Explicit, so that no default can add slack_sdk's rate-limit handler: it sleeps
                # for as long as a 429's Retry-After says. 5xx are not retried either.
                retry_handlers=[
                    ConnectionErrorRetryHandler(
                        max_retry_count=1,
                        interval_calculator=FixedValueRetryIntervalCalculator(
                            CONNECTION_RETRY_PAUSE_SECONDS
                        ),
                    )
                ],
                logger=_silent_logger(),
            )
            client = hook.get_conn()
            response = client.send(text=text)
            if response.status_code != 200:
                failures.append(_http_reason(response.status_code, response.body, client.url))
        except Exception as error:
            failures.append(_reason(error))

    def _undelivered(self, reason: str) -> None:
        log.warning(
            "Slack failure alert not delivered through connection %r: %s",
            self.slack_webhook_conn_id,
            reason,
        )

    def __repr__(self) -> str:
        return f"SlackFailureAlert({self.slack_webhook_conn_id!r})"


def _http_reason(status: int, body: str | None, url: str) -> str:
    code = (body or "").strip()
    if _SLACK_ERROR_CODE.fullmatch(code) and code not in url:
        return f"HTTP {status} {code}"
    return f"HTTP {status}"


def _reason(error: BaseException) -> str:
    """What went wrong, by class only: exception texts can carry the URL (slack_sdk's
    `Invalid URL detected: <url>`, urllib's errors), so none is ever logged."""
    cause = error.reason if isinstance(error, URLError) else error
    if isinstance(cause, TimeoutError):
        return f"timeout (no answer within {SLACK_TIMEOUT_SECONDS} s)"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return "host name not resolved"
    if isinstance(cause, OSError):
        return f"connection error ({type(cause).__name__})"
    return type(error).__name__


def task_failure_alert() -> SlackFailureAlert:
    """The `on_failure_callback` every platform DAG sets: one Slack message per failed task."""
    return SlackFailureAlert(SLACK_CONNECTION_ID, FAILURE_TEXT)
