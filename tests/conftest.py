"""Shared fixtures: the project on disk, and components built under the recording mocks.

Nothing is declared at import time: each test builds what it checks inside `declare(...)`,
which runs it through the same mock runtime and recording monitor as the offline plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.config import Settings, Tier, settings_from_values
from airflow_platform.plan.project import Project, StackConfig
from airflow_platform.plan.runner import DeclaredResource, ProgramRun, run_function

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
TIER_STACKS = {Tier.DEV: "dev", Tier.STAGING: "staging", Tier.PROD: "prod", Tier.EPHEMERAL: "pr-7"}


@dataclass
class Declared:
    """What one run declared, with lookups that name the resource on failure."""

    run: ProgramRun

    def of_type(self, token: str) -> list[DeclaredResource]:
        return [r for r in self.run.resources if r.type == token]

    def one(self, token: str, name: str) -> DeclaredResource:
        found = [r for r in self.of_type(token) if r.name == name]
        assert len(found) == 1, f"expected one {token} named {name}, found {len(found)}"
        return found[0]

    def for_bucket(self, token: str, bucket: DeclaredResource) -> DeclaredResource:
        found = [
            r for r in self.of_type(token) if r.inputs.get("bucket") == bucket.inputs["bucket"]
        ]
        assert len(found) == 1, f"expected one {token} for {bucket.urn}, found {len(found)}"
        return found[0]


def settings_for(tier: Tier, **overrides: Any) -> Settings:
    """Validated settings of a stack of `tier`, with stack-file style overrides."""
    values = {"aws:region": REGION, **{f"airflow-platform:{k}": v for k, v in overrides.items()}}
    stack = TIER_STACKS[tier]
    if tier is not Tier.EPHEMERAL:
        values["airflow-platform:tier"] = tier.value
    return settings_from_values("airflow-platform", stack, values)


@pytest.fixture(scope="session")
def project() -> Project:
    return Project.load(ROOT)


@pytest.fixture
def declare() -> Callable[[Callable[[], Any], str], Declared]:
    def run(build: Callable[[], Any], stack: str = "dev") -> Declared:
        config = StackConfig(values={"aws:region": REGION}, secret_keys=[])
        return Declared(run_function(build, "airflow-platform", stack, config))

    return run
