"""AirflowVariables: the Airflow Variables a stack knows itself, as Secrets Manager secrets.

Airflow's Secrets Manager backend (set on every runtime by `airflow_settings`) reads a
Variable `key` from the secret `<prefix>/variables/<key>`, its value the secret's string. The
stack creates those whose value follows from its own config (the `mode` Variable from the
tier), so a new environment behaves right from its first run; connections and Variables that
hold a team's credentials (`metadata_db`, `slack_alerts`) are created by the team under the
same prefix (README, "After the first pulumi up").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_platform.tagging import resource_tags


@dataclass(frozen=True)
class AirflowVariablesArgs:
    """Inputs of AirflowVariables."""

    variables_prefix: str
    """The secrets backend's `variables_prefix` (`airflow/<stack>/variables`)."""
    variables: Mapping[str, str]
    """Variable key to value."""
    tags: Mapping[str, str]
    """The stack's tags."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Project key for the secrets; Secrets Manager's AWS managed key when None."""


class AirflowVariables(pulumi.ComponentResource):
    """One Secrets Manager secret per Variable, at `<variables_prefix>/<key>`.

    Outputs: `secret_arns` (Variable key to its secret's ARN).
    """

    secret_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: AirflowVariablesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:AirflowVariables", name, None, opts)
        self.secret_arns = {}
        for key, value in sorted(args.variables.items()):
            secret_name = f"{args.variables_prefix}/{key}"
            secret = aws.secretsmanager.Secret(
                f"{name}-{key}",
                name=secret_name,
                description=f"Airflow Variable {key!r}, set by the stack from its config",
                kms_key_id=args.kms_key_arn,
                # Deleted at once on destroy: the value is derived from the config, and a
                # secret waiting out a recovery window keeps its name taken, so a stack of
                # the same name could not be created again for up to 30 days.
                recovery_window_in_days=0,
                tags=resource_tags(args.tags, secret_name),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.secretsmanager.SecretVersion(
                f"{name}-{key}-value",
                secret_id=secret.id,
                secret_string=value,
                opts=pulumi.ResourceOptions(parent=secret),
            )
            self.secret_arns[key] = secret.arn
        self.register_outputs({"secret_arns": self.secret_arns})
