"""The Automation API behind `StackBackend` (airflow_platform.teardown.automation). No Pulumi
CLI exists here, so `PulumiAutomationBackend` is checked at the type level and for how it
reports a missing CLI; what it does with a real backend is not exercised."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from airflow_platform.teardown.automation import (
    PulumiAutomationBackend,
    PulumiMissingError,
    StackBackend,
    StackResource,
    resources_of_deployment,
    short_name,
)
from tests.teardown_standin import InMemoryBackend

PROTOCOL_METHODS = ["list_stacks", "resources", "outputs", "destroy", "remove"]


@pytest.mark.parametrize("implementation", [PulumiAutomationBackend, InMemoryBackend])
@pytest.mark.parametrize("method", PROTOCOL_METHODS)
def test_backend_implements_each_protocol_method_with_its_signature(
    implementation: type, method: str
) -> None:
    wanted = inspect.signature(getattr(StackBackend, method))
    found = inspect.signature(getattr(implementation, method))

    assert list(found.parameters) == list(wanted.parameters), implementation


def test_backend_construction_runs_nothing_when_no_cli_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    backend = PulumiAutomationBackend(tmp_path, org="acme")

    assert backend.work_dir == tmp_path


def test_backend_names_path_when_the_pulumi_cli_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no `pulumi` in it

    with pytest.raises(PulumiMissingError, match=r"Pulumi CLI \(`pulumi`\) is not on PATH"):
        PulumiAutomationBackend(tmp_path).list_stacks()


def test_resources_of_deployment_reads_urn_and_type_of_an_export() -> None:
    deployment = {
        "manifest": {},
        "resources": [
            {"urn": "urn:pulumi:pr-7::p::pulumi:pulumi:Stack::p-pr-7",
             "type": "pulumi:pulumi:Stack"},
            {"urn": "urn:pulumi:pr-7::p::kubernetes:helm.sh/v3:Release::r",
             "type": "kubernetes:helm.sh/v3:Release", "id": "airflow/airflow"},
        ],
    }  # fmt: skip

    assert resources_of_deployment(deployment) == [
        StackResource("urn:pulumi:pr-7::p::pulumi:pulumi:Stack::p-pr-7", "pulumi:pulumi:Stack"),
        StackResource("urn:pulumi:pr-7::p::kubernetes:helm.sh/v3:Release::r",
                      "kubernetes:helm.sh/v3:Release"),
    ]  # fmt: skip


def test_resources_of_deployment_is_empty_when_the_stack_was_never_deployed() -> None:
    assert resources_of_deployment(None) == []
    assert resources_of_deployment({"manifest": {}}) == []


@pytest.mark.parametrize("listed", ["pr-7", "acme/pr-7", "acme/airflow-platform/pr-7"])
def test_short_name_is_the_stack_name_whatever_the_backend_prefixes(listed: str) -> None:
    assert short_name(listed) == "pr-7"
