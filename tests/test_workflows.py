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
# A workflow of this repository, called by path: it runs at the caller's own commit.
LOCAL_WORKFLOW = re.compile(r"^\./\.github/workflows/[\w.-]+\.yml$")
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
        if LOCAL_WORKFLOW.match(action.strip()):
            assert (ROOT / action.strip()).is_file(), f"{path.name}: {action} does not exist"
            continue
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


# --- ephemeral environments, the deploy pipeline and the reaper --------------------------------

PREVIEW_ENV = ROOT / ".github" / "workflows" / "preview-env.yml"
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"
DEPLOY_STACK = ROOT / ".github" / "workflows" / "deploy-stack.yml"
REAPER = ROOT / ".github" / "workflows" / "reaper.yml"
LABEL = "preview-env"


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _condition(job: dict[str, Any]) -> str:
    return " ".join(job["if"].split())


def test_preview_env_runs_on_pull_request_events_that_add_change_or_end_an_environment():
    doc = _load(PREVIEW_ENV)
    assert doc["on"] == {"pull_request": {"types": [
        "opened", "reopened", "synchronize", "labeled", "unlabeled", "closed"]}}  # fmt: skip
    assert doc["env"]["LABEL"] == LABEL
    assert set(doc["jobs"]) == {"up", "destroy"}


def test_preview_env_up_is_gated_by_the_label_and_never_runs_for_a_fork():
    up = _condition(_load(PREVIEW_ENV)["jobs"]["up"])
    assert f"contains(github.event.pull_request.labels.*.name, '{LABEL}')" in up
    # Adding another label does not redeploy; closing or removing a label never deploys.
    assert f"github.event.action != 'labeled' || github.event.label.name == '{LABEL}'" in up
    assert "github.event.action != 'closed'" in up
    assert "github.event.action != 'unlabeled'" in up
    assert "github.event.pull_request.head.repo.full_name == github.repository" in up
    assert "vars.AWS_PREVIEW_ENV_ROLE_ARN != ''" in up


def test_preview_env_destroy_runs_on_close_with_the_label_or_when_the_label_goes():
    destroy = _condition(_load(PREVIEW_ENV)["jobs"]["destroy"])
    assert "github.event.action == 'closed'" in destroy
    assert f"contains(github.event.pull_request.labels.*.name, '{LABEL}')" in destroy
    assert f"github.event.action == 'unlabeled' && github.event.label.name == '{LABEL}'" in destroy
    assert "github.event.pull_request.head.repo.full_name == github.repository" in destroy


def _assert_the_dbt_manifest_is_built_before_pulumi_up(job: dict[str, Any]) -> None:
    steps = job["steps"]
    [build] = [i for i, s in enumerate(steps) if "platform dbt-manifest" in s.get("run", "")]
    [up] = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@")]
    assert build < up
    assert "make .venv-dbt/.installed-dbt" in steps[build]["run"]


def test_preview_env_up_deploys_ships_waits_and_comments_in_that_order():
    up = _load(PREVIEW_ENV)["jobs"]["up"]
    [pulumi] = [s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["upsert"] is True
    assert "env.STACK" in pulumi["with"]["stack-name"]
    assert up["env"]["STACK"] == "pr-${{ github.event.pull_request.number }}"
    order = [i for i, s in enumerate(up["steps"]) for marker in (
        'stack-file "$STACK"', "pulumi/actions@", "ship-dags \"$STACK\"",
        'health "$STACK" --wait', "environment-comment \"$STACK\"", "github-script@")
        if marker in s.get("uses", "") + s.get("run", "")]  # fmt: skip
    assert order == sorted(order)
    assert len(order) == 6
    _assert_the_dbt_manifest_is_built_before_pulumi_up(up)
    runs = _runs(up)
    assert 'plan "$STACK" --json "$RUNNER_TEMP/plan.json"' in runs
    script = next(s for s in up["steps"] if "github-script" in s.get("uses", ""))
    from airflow_platform.environment_comment import marker

    assert "const marker = `" + marker("${stack}") + "`;" in script["with"]["script"]


def test_preview_env_destroy_uses_the_teardown_command_then_removes_the_stack():
    destroy = _load(PREVIEW_ENV)["jobs"]["destroy"]
    runs = _runs(destroy)
    assert runs.index('airflow-platform destroy "$STACK" --yes') < runs.index("pulumi stack rm")
    assert 'pulumi stack rm --yes --stack "$name"' in runs  # no --force: only an empty stack
    [checkout] = [s for s in destroy["steps"] if "checkout" in s.get("uses", "")]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    [cli] = [s for s in destroy["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in cli["with"], "only the CLI, for the Automation API"


def test_a_pr_stack_has_one_concurrency_group_for_its_up_and_its_destroy_never_cancelled():
    jobs = _load(PREVIEW_ENV)["jobs"]
    groups = {name: job["concurrency"] for name, job in jobs.items()}
    expected = {"group": "airflow-platform-stack-pr-${{ github.event.pull_request.number }}",
                "cancel-in-progress": False}  # fmt: skip
    assert groups == {"up": expected, "destroy": expected}


def _deploy_job_for(stack: str) -> dict[str, Any]:
    """deploy-stack.yml's job as GitHub runs it for `stack` (its `inputs.stack`)."""
    text = DEPLOY_STACK.read_text().replace("${{ inputs.stack }}", stack)
    [job] = yaml.safe_load(text)["jobs"].values()
    return job


def test_deploy_runs_on_push_to_main_dev_then_staging_then_prod_each_in_its_environment():
    doc = _load(DEPLOY)
    assert doc["on"] == {"push": {"branches": ["main"]}}
    jobs = doc["jobs"]
    assert list(jobs) == ["dev", "staging", "prod"]
    assert "needs" not in jobs["dev"]
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["prod"]["needs"] == "staging"
    assert _load(DEPLOY_STACK)["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    for stack, caller in jobs.items():
        assert caller["uses"] == "./.github/workflows/deploy-stack.yml"
        assert caller["with"] == {"stack": stack}
        assert caller["permissions"] == {"contents": "read", "id-token": "write"}
        job = _deploy_job_for(stack)
        assert job["environment"] == stack, "prod's required reviewers live on its environment"
        assert job["concurrency"] == {
            "group": f"airflow-platform-stack-{stack}",
            "cancel-in-progress": False,
        }
        assert job["env"]["STACK"] == stack
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        [pulumi] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["policyPacks"] == "policy"
        runs = _runs(job)
        assert runs.index('ship-dags "$STACK"') < runs.index('health "$STACK" --wait')
        _assert_the_dbt_manifest_is_built_before_pulumi_up(job)


def test_the_reaper_runs_hourly_one_at_a_time_with_the_cli_installed_for_the_automation_api():
    doc = _load(REAPER)
    [cron] = doc["on"]["schedule"]
    minute, hour, *rest = cron["cron"].split()
    assert minute.isdigit()
    assert (hour, rest) == ("*", ["*", "*", "*"])
    [job] = doc["jobs"].values()
    assert job["concurrency"] == {"group": "airflow-platform-reaper", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    [cli] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in cli["with"]
    [reap] = [s for s in job["steps"] if "airflow-platform reap" in s.get("run", "")]
    assert {"PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"} <= set(
        reap["env"]
    )


def test_no_two_workflows_name_a_stack_group_differently():
    groups = {job["concurrency"]["group"] for job in _load(PREVIEW_ENV)["jobs"].values()}
    groups |= {_deploy_job_for(stack)["concurrency"]["group"] for stack in _load(DEPLOY)["jobs"]}
    assert all(g.startswith("airflow-platform-stack-") for g in groups)
    assert {g.removeprefix("airflow-platform-stack-") for g in groups} == {
        "dev", "staging", "prod", "pr-${{ github.event.pull_request.number }}"}  # fmt: skip


@pytest.mark.parametrize("path", [PREVIEW_ENV, DEPLOY_STACK, REAPER], ids=lambda p: p.name)
def test_aws_access_is_oidc_role_assumption_without_stored_keys(path):
    text = path.read_text()
    assert "aws-access-key-id" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    for job in _load(path)["jobs"].values():
        assert job["permissions"].get("id-token") == "write"
        [aws] = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        assert set(aws["with"]) == {"role-to-assume", "role-session-name", "aws-region"}
