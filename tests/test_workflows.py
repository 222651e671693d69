"""The GitHub Actions workflows: actionlint (with shellcheck) passes them and fails a broken
one, every action is pinned by commit, every job asks for its own permissions, and the
preview workflows agree with the plan they run and the comment they post."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform.plan.comment import marker
from airflow_platform.versions import versions
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PREVIEW = ROOT / ".github" / "workflows" / "preview.yml"
COMMENT = ROOT / ".github" / "workflows" / "preview-comment.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
LONG_LIVED = sorted(
    p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
)  # dev, prod, staging


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _lint(*workflows: Path) -> subprocess.CompletedProcess[str]:
    """`make lint-workflows` on these files; `-o` keeps make from reinstalling .venv."""
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-test", "lint-workflows",
         "WORKFLOWS=" + " ".join(str(w) for w in workflows)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


@needs_make
def test_actionlint_passes_the_repository_workflows():
    assert WORKFLOWS, "no workflows found"
    done = _lint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_make
def test_actionlint_fails_a_broken_workflow_naming_each_error(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "name: broken\n"
        "on:\n  pull_request:\n"
        "jobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    permissions:\n      pull-request: write\n"  # the scope is pull-requests
        "    steps:\n"
        '      - run: echo "${{ steps.nope.outputs.x }}"\n'
        "      - run: rm -rf $DIR/*\n"  # shellcheck: SC2115
    )
    done = _lint(broken)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert 'unknown permission scope "pull-request"' in out
    assert 'property "nope" is not defined' in out
    assert "SC2115" in out, "shellcheck runs over the run: scripts"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it(path):
    uses = re.findall(r"^\s*(?:- )?uses: (.+)$", path.read_text(), re.MULTILINE)
    assert uses
    for action in uses:
        assert PINNED.match(action.strip()), f"{path.name}: {action} is not pinned by commit"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_asks_for_its_own_permissions_and_nothing_is_granted_by_default(path):
    doc = _load(path)
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}: {name}"
        assert "write-all" not in str(job["permissions"])


def test_each_preview_job_runs_once_per_pull_request_and_stack():
    for path in (PREVIEW, COMMENT):
        for name, job in _load(path)["jobs"].items():
            assert sorted(j["stack"] for j in _matrix(job)) == LONG_LIVED, name
            group = job["concurrency"]["group"]
            assert "matrix.stack" in group, name
            assert "pull_request.number" in group or "workflow_run.head_branch" in group, name


def _matrix(job: dict[str, Any]) -> list[dict[str, str]]:
    matrix = job["strategy"]["matrix"]
    return matrix.get("include") or [{"stack": s} for s in matrix["stack"]]


def test_preview_plans_the_base_and_the_pull_request_and_writes_the_comment():
    plan = _load(PREVIEW)["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read"}
    runs = "\n".join(step.get("run", "") for step in plan["steps"])
    assert 'airflow-platform plan "$STACK" --json "$RUNNER_TEMP/base.json"' in runs
    assert '--diff "$out/base.json"' in runs
    assert '--json "$out/head.json"' in runs
    assert '--markdown "$out/comment.md"' in runs
    assert "make -C base .venv/.installed-plan" in runs
    assert "make -C head .venv/.installed-plan" in runs
    # The comment it writes when there is no plan carries the plan's own marker.
    assert marker("$STACK") in runs
    [python] = [s for s in plan["steps"] if "setup-python" in s.get("uses", "")]
    assert python["with"]["python-version"] == versions().python
    assert python["with"]["cache"] == "pip"


def test_the_comment_workflow_finds_its_comment_by_the_plans_marker():
    doc = _load(COMMENT)
    assert doc["on"] == {"workflow_run": {"workflows": ["preview"], "types": ["completed"]}}
    assert _load(PREVIEW)["name"] == "preview"
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    script = next(s for s in job["steps"] if "github-script" in s.get("uses", ""))
    source = script["with"]["script"]
    assert "const marker = `" + marker("${stack}") + "`;" in source
    # It never runs the pull request's code: no checkout, no shell.
    assert not any("checkout" in s.get("uses", "") or "run" in s for s in job["steps"])
    # The pull request the artifact names must be the one whose commit the run built.
    assert "pr.head.sha !== process.env.RUN_HEAD_SHA" in source


def test_pulumi_preview_runs_only_with_a_role_and_never_for_a_fork():
    job = _load(PREVIEW)["jobs"]["pulumi-preview"]
    condition = " ".join(job["if"].split())
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert job["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    [pulumi] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["comment-on-pr"] is True
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'airflow-platform policy config "$STACK"' in runs
    assert "sed -n 's/^pulumi==//p' requirements.txt" in runs
