"""Failure alerts for the platform's DAGs: the Slack provider's own webhook notifier.

The webhook URL lives in the Airflow connection `SLACK_CONNECTION_ID` (type `slackwebhook`,
resolved through the secrets backend in production), never in code or DAG files.
"""

from __future__ import annotations

from typing import Any

SLACK_CONNECTION_ID = "slack_alerts"

FAILURE_TEXT = (
    ":red_circle: *{{ dag.dag_id }}.{{ ti.task_id }}* failed "
    "(try {{ ti.try_number }}, run `{{ run_id }}`)\n"
    "{{ exception | string | truncate(500) }}\n"
    "<{{ ti.log_url }}|task log>"
)


class SlackFailureAlert:
    """A failure callback that sends `text` through the Slack provider's webhook notifier.

    The provider is imported when a task fails, not when the DAG file is parsed: importing
    it costs about 0.4 s (it pulls in libcst through the SDK's decorators), which the DAG
    processor would pay on every parse of every file using this alert (bench/dag_parse.py).
    """

    def __init__(self, slack_webhook_conn_id: str, text: str) -> None:
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.text = text

    def __call__(self, context: Any) -> None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifier = SlackWebhookNotifier(
            slack_webhook_conn_id=self.slack_webhook_conn_id, text=self.text
        )
        notifier(context)

    def __repr__(self) -> str:
        return f"SlackFailureAlert({self.slack_webhook_conn_id!r})"


def task_failure_alert() -> SlackFailureAlert:
    """The `on_failure_callback` every platform DAG sets: one Slack message per failed task."""
    return SlackFailureAlert(SLACK_CONNECTION_ID, FAILURE_TEXT)
