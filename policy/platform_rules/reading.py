"""Reading resource properties the same way in both places the rules run.

The offline plan hands rules plain JSON data (dicts, lists, numbers as floats); pulumi-policy
hands them read-only proxies (`Mapping` and `Sequence`, not `dict` and `list`) that raise
`UnknownValueError` on a value not known during preview. So rules test for the abstract
types only, and never copy a whole property (which would touch every value in it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from platform_rules.model import Resource, Stack

BUCKET = "aws:s3/bucket:Bucket"
# A customer-managed key's ARN; aliases (`alias/aws/s3`) and AWS managed keys do not match.
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-zA-Z-]+$")


def items(value: Any) -> list[Any]:
    """A list property as a list: one value alone as a list of it, none as empty."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [value[i] for i in range(len(value))]
    return [value]


def is_true(value: Any) -> bool:
    """A boolean input: True, or the text "true" (a value set through config)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any) -> float | None:
    """A number input (the engine carries every number as a float), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def at(value: Any, path: str) -> Any:
    """A nested value of plain data by dotted path (`Resource.get` for what is not a resource:
    one rule of a list, say), or None."""
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def is_customer_key(value: Any) -> bool:
    """Whether `value` is a customer-managed KMS key's ARN (what the project key is)."""
    return isinstance(value, str) and bool(_KEY_ARN.fullmatch(value))


def document(value: Any) -> Mapping[str, Any] | None:
    """A policy document, whether held as JSON text (as the provider takes it) or as data."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def statements(value: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement object counts as one)."""
    doc = document(value)
    if doc is None:
        return []
    return [s for s in items(doc.get("Statement")) if isinstance(s, Mapping)]


def principals(statement: Mapping[str, Any]) -> list[str]:
    """Every principal a statement names: `"*"`, `{"AWS": "*"}` and service names alike."""
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, Mapping):
        return [str(p) for key in principal for p in items(principal[key])]
    return []


def name_of(resource: Resource) -> str:
    """The resource's logical name, as waivers and messages name it."""
    return resource.name or resource.urn.rsplit("::", 1)[-1]


def buckets(stack: Stack) -> list[Resource]:
    return stack.of_type(BUCKET)


def bucket_name(bucket: Resource) -> Any:
    """The bucket's name: its `bucket` input (the platform always names its buckets)."""
    return bucket.get("bucket")


def settings_of(stack: Stack, token: str, bucket: Resource) -> list[Resource]:
    """The bucket's settings resources of type `token` (pulumi-aws 7 keeps versioning,
    encryption, policy and the rest as resources of their own), matched by their `bucket`
    input, which holds the bucket's name."""
    name = bucket_name(bucket)
    if name is None:
        return []
    return [r for r in stack.of_type(token) if r.get("bucket") == name]


def purpose(bucket: Resource) -> str | None:
    """The bucket's `purpose` tag (Storage sets dags, logs, backups or access-logs)."""
    tags = bucket.get("tags")
    value = tags.get("purpose") if isinstance(tags, Mapping) else None
    return value if isinstance(value, str) else None
