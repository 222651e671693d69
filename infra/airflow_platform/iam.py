"""IAM and resource policy documents as plain data, rendered to JSON once.

Built by hand rather than with `aws.iam.get_policy_document` so that a plan shows the
exact document and no provider call is needed to produce it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi


def statement(
    sid: str,
    actions: list[str],
    resources: list[Any],
    effect: str = "Allow",
    principal: dict[str, Any] | str | None = None,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One policy statement; `resources` may hold Outputs."""
    body: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if principal is not None:
        body["Principal"] = principal
    body["Action"] = actions if len(actions) > 1 else actions[0]
    body["Resource"] = resources if len(resources) > 1 else resources[0]
    if condition:
        body["Condition"] = condition
    return body


def policy_document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document as JSON, resolving any Outputs inside it."""
    return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": list(statements)}).apply(
        lambda doc: json.dumps(doc, sort_keys=True)
    )


def service_trust_policy(
    service: str, account_id: pulumi.Input[str], source_arn: pulumi.Input[str] | None = None
) -> pulumi.Output[str]:
    """Trust for an AWS service principal, limited to this account and, when given, to the
    resources matching `source_arn` (confused-deputy protection)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return policy_document(
        {
            "Sid": "AssumeFromService",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }
    )
