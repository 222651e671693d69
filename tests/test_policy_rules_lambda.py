"""Lambda policy rules (policy/platform_rules/lambda_fn.py) over the health probe the stacks
really declare, and invoke permissions declared under the mocks."""

from __future__ import annotations

from datetime import date, timedelta

import pulumi_aws as aws
import pytest
from platform_rules import evaluate
from platform_rules.lambda_fn import RUNTIME_DEPRECATION, runtime_problem, secret_variables

from airflow_platform.components.health_probe import RUNTIME
from tests.test_policy_rules_iam import (
    COMMITTED_STACKS,
    changed,
    declared_stack,
    module_rules,
    one,
    program_stack,
    swapped,
    violations,
)

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"


def _probe():
    stack = program_stack("prod")
    return stack, one(stack, FUNCTION, "monitoring-probe-function")


def _reported(rule_name: str, **change) -> list[tuple[str, str]]:
    stack, function = _probe()
    found = violations(rule_name, swapped(stack, changed(function, **change)))
    assert [urn for urn, _ in found] == [function.urn]
    return found


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_the_health_probe_passes_every_lambda_rule(stack):
    assert program_stack(stack).of_type(FUNCTION)
    assert evaluate(module_rules("lambda_fn"), program_stack(stack)) == []


def test_function_without_reserved_concurrency_is_reported_with_its_urn():
    for value in (None, -1):
        _reported("lambda-reserved-concurrency", reservedConcurrentExecutions=value)


def test_function_without_dead_letter_target_is_reported_with_its_urn():
    _reported("lambda-dead-letter", deadLetterConfig=None)


def test_function_not_traced_actively_is_reported_with_its_urn():
    _reported("lambda-tracing-active", tracingConfig={"mode": "PassThrough"})
    _reported("lambda-tracing-active", tracingConfig=None)


def test_environment_without_customer_key_is_reported_with_its_urn():
    _reported("lambda-environment-encrypted", kmsKeyArn=None)


def test_function_without_environment_needs_no_key():
    stack, function = _probe()
    bare = changed(function, kmsKeyArn=None, environment=None)
    assert violations("lambda-environment-encrypted", swapped(stack, bare)) == []


@pytest.mark.parametrize(
    "variables",
    [
        {"DB_PASSWORD": "hunter2"},
        {"SLACK_TOKEN": "xoxb-1"},
        {"API_KEY": "abc"},
        {"SIGNING_KEY": "c2VjcmV0LXNpZ25pbmcta2V5LWJ5dGVz"},
        {"AWS_ID": "AKIAABCDEFGHIJKLMNOP"},
        {"DATABASE_URL": "postgresql://airflow:s3cret@db.internal:5432/airflow"},
        {"FERNET": "[secret]"},
    ],
)
def test_secret_looking_environment_variable_is_reported_with_its_urn(variables):
    _, function = _probe()
    environment = {"variables": {**function.props["environment"]["variables"], **variables}}
    found = _reported("lambda-no-secrets-in-environment", environment=environment)
    assert next(iter(variables)) in found[0][1]


def test_references_to_secrets_are_not_secrets():
    assert secret_variables({
        "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
        "API_TOKEN_PARAMETER": "/airflow/prod/api-token",
        "KMS_KEY": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "CACHE_KEY_PREFIX": "probe",
        "TIMEOUT_SECONDS": "10",
        "AIRFLOW_API_URL": "http://internal-nlb.elb.eu-west-1.amazonaws.com:8080",
    }) == []  # fmt: skip


def test_deprecated_runtime_is_reported_with_its_urn():
    found = _reported("lambda-supported-runtime", runtime="python3.8")
    assert "2024-10-14" in found[0][1]


def test_unknown_runtime_is_reported_with_its_urn():
    _reported("lambda-supported-runtime", runtime="python2.7")


def test_container_image_function_has_no_runtime_to_check():
    stack, function = _probe()
    image = changed(function, runtime=None, packageType="Image", imageUri="x.dkr.ecr/y:1")
    assert violations("lambda-supported-runtime", swapped(stack, image)) == []


def test_runtime_support_follows_its_deprecation_date():
    deprecated = RUNTIME_DEPRECATION["python3.12"]
    assert runtime_problem("python3.12", date(2028, 10, 30)) is None
    assert "deprecated on 2028-10-31" in str(runtime_problem("python3.12", deprecated))


def test_the_probes_runtime_is_not_within_half_a_year_of_its_deprecation():
    # Fails six months ahead on purpose: time to move the probe before the prod rule blocks.
    assert RUNTIME_DEPRECATION[RUNTIME] - date.today() >= timedelta(days=183)


# --- lambda-permission-source-arn -----------------------------------------------------------


def _permission(declare, **args):
    stack = declared_stack(
        declare(lambda: aws.lambda_.Permission(
            "invoke", action="lambda:InvokeFunction", function="airflow-prod-health-probe",
            **args,
        ))
    )  # fmt: skip
    return stack, one(stack, PERMISSION, "invoke")


def test_permission_scoped_by_source_arn_passes(declare):
    stack, _ = _permission(
        declare,
        principal="events.amazonaws.com",
        source_arn="arn:aws:events:eu-west-1:123456789012:rule/airflow-prod-probe",
    )
    assert violations("lambda-permission-source-arn", stack) == []


def test_permission_without_source_arn_is_reported_with_its_urn(declare):
    stack, permission = _permission(declare, principal="events.amazonaws.com")
    found = violations("lambda-permission-source-arn", stack)
    assert [urn for urn, _ in found] == [permission.urn]
    assert "sourceArn" in found[0][1]


def test_permission_for_anyone_is_reported_with_its_urn(declare):
    stack, permission = _permission(
        declare, principal="*", source_arn="arn:aws:execute-api:eu-west-1:1:api/*"
    )
    found = violations("lambda-permission-source-arn", stack)
    assert [urn for urn, _ in found] == [permission.urn]
    assert "anyone" in found[0][1]
