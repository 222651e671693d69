"""An in-memory `StackBackend` (airflow_platform.teardown.automation) for the teardown tests:
stacks with resources and outputs, every call recorded in order, and failures on demand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_platform.teardown.automation import BackendError, StackResource, StackSummary


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::airflow-platform::{type_}::{name}"


@dataclass
class InMemoryBackend:
    """Stacks by name: their resources (type tokens) and outputs."""

    resources_of: dict[str, list[StackResource]] = field(default_factory=dict)
    outputs_of: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail_destroy: set[str] = field(default_factory=set)
    """Stacks whose destroy raises BackendError."""

    def add(self, stack: str, types: Sequence[str] = (), **outputs: Any) -> None:
        self.resources_of[stack] = [
            StackResource(urn(stack, t, f"r{i}"), t) for i, t in enumerate(types)
        ]
        self.outputs_of[stack] = dict(outputs)

    def list_stacks(self) -> list[StackSummary]:
        self.calls.append(("list",))
        return [
            StackSummary(name, self.outputs_of[name].get("expiresAt")) for name in self.resources_of
        ]

    def resources(self, stack: str) -> list[StackResource]:
        self.calls.append(("resources", stack))
        return list(self.resources_of[stack])

    def outputs(self, stack: str) -> dict[str, Any]:
        self.calls.append(("outputs", stack))
        return dict(self.outputs_of[stack])

    def destroy(self, stack: str, targets: Sequence[str] | None) -> None:
        self.calls.append(("destroy", stack, None if targets is None else tuple(targets)))
        if stack in self.fail_destroy:
            raise BackendError(f"destroying {stack} failed: error: deleting urn ... timeout")
        if targets is None:
            self.resources_of[stack] = []
        else:
            self.resources_of[stack] = [
                r for r in self.resources_of[stack] if r.urn not in set(targets)
            ]

    def remove(self, stack: str) -> None:
        self.calls.append(("remove", stack))
        del self.resources_of[stack]
        del self.outputs_of[stack]

    def mutations(self) -> list[tuple[Any, ...]]:
        """The calls that change anything."""
        return [call for call in self.calls if call[0] in ("destroy", "remove")]
