"""What every config section is built from: the base model (camelCase keys, unknown keys
refused, immutable), the small validators, and the rules across keys, which a section either
raises (`RuleError`) or, under validation in rounds, hands to a `RuleCollector`."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


def _log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"expected one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return days


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
"""Days a CloudWatch log group keeps its events: one of CloudWatch's allowed values."""


def matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {what}")
        return value

    return AfterValidator(check)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The config section a field holds (`NetworkConfig` for `NetworkConfig | None`), if any."""
    for candidate in (annotation, *(getattr(annotation, "__args__", ()) or ())):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


@dataclass(frozen=True)
class RuleProblem:
    """A rule across several keys that a section's values break."""

    message: str
    keys: tuple[str, ...]
    """The keys the rule reads, dotted and camelCase, relative to the section checking it (the
    first is the one the message is mostly about)."""


class RuleError(ValueError):
    """The rules across keys that one section breaks, each naming the keys it involves."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n  - ".join(problem.message for problem in self.problems))


class RuleCollector:
    """A validation context (`model_validate(..., context=RuleCollector())`) under which the
    sections hand their broken rules here instead of raising them. A raised rule would make
    the section invalid, and pydantic runs a model's after-validators only when all its fields
    are valid: collected, every section's rules and the tier floors above them all run in the
    same validation."""

    def __init__(self) -> None:
        self.found: list[tuple[BaseModel, RuleProblem]] = []


def enforce(model: BaseModel, info: ValidationInfo, problems: list[RuleProblem]) -> None:
    if not problems:
        return
    if isinstance(info.context, RuleCollector):
        info.context.found += [(model, problem) for problem in problems]
        return
    raise RuleError(problems)


class ConfigModel(BaseModel):
    """Base of every config section: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )
