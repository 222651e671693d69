"""Lambda: functions are capped, traced, keep their failures, hold no secret in a KMS-encrypted
environment, run on a runtime AWS still supports, and may be invoked only from named
sources."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date

from platform_rules.model import Resource, Rule, Stack

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"

# Deprecation date of each Lambda-managed runtime: after it AWS no longer patches the runtime
# and, some weeks later, blocks creating and then updating functions on it. From AWS Lambda
# Developer Guide, "Lambda runtimes", its tables of supported and deprecated runtimes
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), as of November 2026
# (python3.9 moved to 2025-12-15, nodejs18.x deprecated 2025-09-01); the newest releases'
# dates as endoflife.date lists them from that page (https://endoflife.date/aws-lambda). Dates
# move: check the page when adding a runtime or when one comes close.
RUNTIME_DEPRECATION: Mapping[str, date] = {
    "python3.14": date(2029, 6, 30),
    "python3.13": date(2029, 6, 30),
    "python3.12": date(2028, 10, 31),
    "python3.11": date(2026, 6, 30),
    "python3.10": date(2026, 6, 30),
    "python3.9": date(2025, 12, 15),
    "python3.8": date(2024, 10, 14),
    "python3.7": date(2023, 12, 4),
    "nodejs24.x": date(2028, 4, 30),
    "nodejs22.x": date(2027, 4, 30),
    "nodejs20.x": date(2026, 4, 30),
    "nodejs18.x": date(2025, 9, 1),
    "nodejs16.x": date(2024, 6, 12),
    "java25": date(2029, 6, 30),
    "java21": date(2029, 6, 30),
    "java17": date(2026, 6, 30),
    "java11": date(2026, 6, 30),
    "java8.al2": date(2026, 6, 30),
    "java8": date(2024, 1, 8),
    "dotnet10": date(2028, 11, 14),
    "dotnet8": date(2026, 11, 10),
    "dotnet6": date(2024, 11, 12),
    "ruby3.4": date(2028, 3, 31),
    "ruby3.3": date(2027, 3, 31),
    "ruby3.2": date(2026, 3, 31),
    "provided.al2023": date(2029, 6, 30),
    "provided.al2": date(2026, 6, 30),
    "provided": date(2024, 1, 8),
    "go1.x": date(2024, 1, 8),
}

# Variable names that say the value is a credential. A name ending in one of the reference
# suffixes names where the secret lives (DB_SECRET_ARN, API_TOKEN_PARAMETER), which is the
# way to pass one.
_SECRET_WORDS = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|SECRETS|TOKEN|CREDENTIALS?|PRIVATE_?KEY|API_?KEY|"
    r"ACCESS_?KEY|SECRET_?KEY)(_|$)"
)
_REFERENCE_SUFFIX = re.compile(r"_(ARN|NAME|ID|PATH|PARAM|PARAMETER|REF|FILE)$")
_KEY_WORD = re.compile(r"(^|_)KEY(_|$)")
# What a secret value looks like whatever its variable's name: AWS access key ids, private
# keys, credentials in a URL, a Pulumi secret (the offline plan shows it as "[secret]").
_SECRET_VALUES = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),
    re.compile(r"^\[secret\]$"),
)
_REFERENCE_VALUE = re.compile(
    r"^(arn:|alias/|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)"
)
_LONG_VALUE = 20


def runtime_problem(runtime: str, today: date) -> str | None:
    """What is wrong with `runtime` on `today`, or None when AWS supports it."""
    deprecated = RUNTIME_DEPRECATION.get(runtime)
    if deprecated is None:
        return (
            f"runtime {runtime} is not in the platform's table of Lambda runtimes: use a "
            "supported one (python3.12 or later), or add it with its AWS deprecation date"
        )
    if today >= deprecated:
        return (
            f"runtime {runtime} was deprecated on {deprecated.isoformat()} (no more security "
            "patches; AWS then blocks updates): move to a supported runtime"
        )
    return None


def secret_variables(variables: Mapping[str, object]) -> list[str]:
    """Names of environment variables that look like they hold a secret."""
    found = []
    for name, value in variables.items():
        upper, text = str(name).upper(), str(value)
        if any(pattern.search(text) for pattern in _SECRET_VALUES):
            found.append(str(name))
        elif _REFERENCE_SUFFIX.search(upper) or _REFERENCE_VALUE.match(text):
            continue
        elif _SECRET_WORDS.search(upper) or (_KEY_WORD.search(upper) and len(text) >= _LONG_VALUE):
            found.append(str(name))
    return found


def _variables(resource: Resource) -> Mapping[str, object]:
    variables = resource.get("environment.variables")
    return variables if isinstance(variables, Mapping) else {}


def _reserved_concurrency(resource: Resource, stack: Stack) -> Iterable[str]:
    reserved = resource.get("reservedConcurrentExecutions")
    if not isinstance(reserved, int | float) or reserved < 0:
        yield (
            "the function has no reserved concurrency, so it can take the account's whole "
            "concurrency: set reservedConcurrentExecutions to what it needs"
        )


def _dead_letter(resource: Resource, stack: Stack) -> Iterable[str]:
    if not resource.get("deadLetterConfig.targetArn"):
        yield (
            "failed asynchronous invocations are dropped: set deadLetterConfig.targetArn to an "
            "SQS queue or SNS topic (and alarm on it)"
        )


def _tracing_active(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("tracingConfig.mode") != "Active":
        yield "the function is not traced: set tracingConfig.mode = Active (X-Ray)"


def _environment_encrypted(resource: Resource, stack: Stack) -> Iterable[str]:
    if _variables(resource) and not resource.get("kmsKeyArn"):
        yield (
            "the environment is encrypted with the AWS managed key only: set kmsKeyArn to the "
            "stack's customer-managed key (and let the role kms:Decrypt with it)"
        )


def _no_secrets_in_environment(resource: Resource, stack: Stack) -> Iterable[str]:
    names = secret_variables(_variables(resource))
    if names:
        yield (
            f"environment variable(s) {', '.join(sorted(names))} look like secrets, which "
            "anyone who can read the function's configuration sees: keep the secret in "
            "Secrets Manager or SSM and pass its ARN or name (e.g. DB_SECRET_ARN)"
        )


def _supported_runtime(resource: Resource, stack: Stack) -> Iterable[str]:
    runtime = resource.get("runtime")
    if resource.get("packageType") == "Image" or not isinstance(runtime, str):
        return  # a container image brings its own runtime
    problem = runtime_problem(runtime, date.today())
    if problem:
        yield problem


def _permission_scoped(resource: Resource, stack: Stack) -> Iterable[str]:
    principal = resource.get("principal")
    if principal == "*":
        yield (
            'anyone (principal "*") may invoke the function: name the service or account '
            "that invokes it"
        )
    if not resource.get("sourceArn"):
        yield (
            f"{principal or 'the principal'} may invoke the function on behalf of any "
            "resource: set sourceArn to the rule, bucket, topic or API that invokes it"
        )


_FUNCTION = frozenset({FUNCTION})

RULES: list[Rule] = [
    Rule(
        name="lambda-reserved-concurrency",
        service="Lambda",
        description="Every function has reserved concurrency.",
        types=_FUNCTION,
        check=_reserved_concurrency,
    ),
    Rule(
        name="lambda-dead-letter",
        service="Lambda",
        description="Every function has a dead-letter target.",
        types=_FUNCTION,
        check=_dead_letter,
    ),
    Rule(
        name="lambda-tracing-active",
        service="Lambda",
        description="Every function has X-Ray tracing Active.",
        types=_FUNCTION,
        check=_tracing_active,
    ),
    Rule(
        name="lambda-environment-encrypted",
        service="Lambda",
        description="A function's environment variables are encrypted with a customer-managed "
        "key (kmsKeyArn).",
        types=_FUNCTION,
        check=_environment_encrypted,
    ),
    Rule(
        name="lambda-no-secrets-in-environment",
        service="Lambda",
        description="No environment variable holds something that looks like a secret.",
        types=_FUNCTION,
        check=_no_secrets_in_environment,
    ),
    Rule(
        name="lambda-supported-runtime",
        service="Lambda",
        description="Every function runs on a Lambda runtime that is not deprecated.",
        types=_FUNCTION,
        check=_supported_runtime,
    ),
    Rule(
        name="lambda-permission-source-arn",
        service="Lambda",
        description="Every invoke permission names its source (sourceArn) and no * principal.",
        types=frozenset({PERMISSION}),
        check=_permission_scoped,
    ),
]
