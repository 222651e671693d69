"""What a reviewer reads in a plan: old -> new values, replacements and the changes refused
before `pulumi up` could fail on them, protection, and no claim about what was not evaluated."""

from __future__ import annotations

import json

import pytest

from airflow_platform.plan.contract import step_refusal
from airflow_platform.plan.render import input_changes, show_value, step_changes
from tests.test_plan import _project_copy, _set_stack_config, plan


@pytest.fixture
def project(tmp_path):
    return _project_copy(tmp_path)


def _diff(project, tmp_path, stack: str, **config):
    base = tmp_path / f"{stack}-base.json"
    assert plan(stack, "--json", str(base), cwd=project).returncode == 0
    _set_stack_config(project, stack, **config)
    done = plan(stack, "--json", "-", "--diff", str(base), "--markdown", str(tmp_path / "pr.md"),
                cwd=project)  # fmt: skip
    steps = {s["urn"].rsplit("::", 1)[1]: s for s in json.loads(done.stdout)["steps"]}
    return done, steps, (tmp_path / "pr.md").read_text()


def test_a_customer_managed_key_on_an_existing_database_is_a_refused_replacement(project, tmp_path):
    done, steps, markdown = _diff(project, tmp_path, "dev", encryption={"customerManagedKey": True})
    instance = steps["database-instance"]
    assert instance["op"] == "replace"
    assert instance["keys"] == ["kmsKeyId"]
    assert "kmsKeyId" in instance["diffs"]
    # RDS would refuse a second instance of that name: found in review, exit 1.
    assert done.returncode == 1, done.stderr
    # One line per refusal, not wrapped at a log's 80 columns.
    [refusal] = [line for line in done.stderr.splitlines() if "refused: database-instance" in line]
    assert "(airflow-dev-metadata) would be replaced (kmsKeyId changed)" in refusal
    assert refusal.rstrip().endswith("and the new one starts empty")
    assert "Traceback" not in done.stderr
    assert "#### Refused" in markdown
    assert "`database-instance`" in markdown.split("#### Refused")[1].split("####")[0]
    # The in-place changes around it stay updates.
    assert steps["storage-dags-encryption"]["op"] == "update"
    assert steps["database-log-postgresql"]["op"] == "update"


def test_deleting_or_replacing_protected_prod_data_is_refused(project, tmp_path):
    done, steps, markdown = _diff(
        project, tmp_path, "prod", encryption={"customerManagedKey": False}
    )
    assert done.returncode == 1
    assert steps["kms-key"]["op"] == "delete"
    assert "protected and would be deleted" in step_refusal(steps["kms-key"])
    assert steps["database-instance"]["op"] == "replace"
    assert "is protected" in step_refusal(steps["database-instance"])
    assert "kms-key is protected and would be deleted" in " ".join(done.stderr.split())
    refused = markdown.split("#### Refused")[1].split("####")[0]
    assert "`kms-key`" in refused
    assert "`database-instance`" in refused


def test_an_in_place_change_shows_old_and_new_values_and_goes_ahead(project, tmp_path):
    done, steps, markdown = _diff(
        project, tmp_path, "dev", storage={"logArchive": {"expireDays": 400}}
    )
    assert done.returncode == 0, done.stderr
    lifecycle = steps["storage-logs-lifecycle"]
    assert lifecycle["op"] == "update"
    assert lifecycle["oldState"]["inputs"]["rules"][0]["expiration"]["days"] == 180
    assert step_changes(lifecycle) == ["rules[0].expiration.days: 180 -> 400"]
    assert "`rules[0].expiration.days: 180 -> 400`" in markdown
    assert "rules[0].expiration.days: 180 -> 400" in done.stderr, "the table says it too"


def test_input_changes_follow_objects_lists_and_policy_documents_to_the_leaf():
    old = {
        "policy": json.dumps({"Statement": [{"Sid": "A", "Action": "s3:GetObject"}]}),
        "tags": {"owner": "a", "gone": "x"},
        "list": [1, 2],
        "same": 1,
    }
    new = {
        "policy": json.dumps({"Statement": [{"Sid": "A", "Action": "s3:PutObject"}]}),
        "tags": {"owner": "b"},
        "list": [1, 2, 3],
        "same": 1,
    }
    changes = [(path, show_value(a), show_value(b)) for path, a, b in input_changes(old, new)]
    assert changes == [
        ("list", "[1,2]", "[1,2,3]"),
        ("policy.Statement[0].Action", "s3:GetObject", "s3:PutObject"),
        ("tags.gone", "x", "(absent)"),
        ("tags.owner", "a", "b"),
    ]


def test_secret_values_stay_placeholders_in_the_shown_changes():
    step = {
        "op": "update",
        "urn": "urn:pulumi:dev::p::aws:secretsmanager/secretVersion:SecretVersion::v",
        "oldState": {"inputs": {"secretString": "[secret]", "versionStages": ["A"]}},
        "newState": {"inputs": {"secretString": "[secret]", "versionStages": ["B"]}},
    }
    assert step_changes(step) == ["versionStages[0]: A -> B"]


def test_the_table_in_a_log_shows_every_resource_name_whole_and_marks_protection():
    done = plan("prod", "--json", "-")  # stdout and stderr are pipes: not a terminal
    assert done.returncode == 0, done.stderr
    names = [s["urn"].rsplit("::", 1)[1] for s in json.loads(done.stdout)["steps"]]
    rows = done.stderr.splitlines()
    for name in names:
        assert any(f" {name} " in row for row in rows), f"{name} is cut short in the table"
    assert "…" not in done.stderr
    # The resource table's rows (the policy violations table names buckets too).
    [backups] = [row for row in rows if " storage-backups " in row and "aws:s3:Bucket " in row]
    assert " yes " in backups, "protected resources are marked"
    [dags] = [row for row in rows if " storage-dags " in row and "aws:s3:Bucket " in row]
    assert " yes " not in dags
    # The policy rules ran: counts by level, never "not evaluated".
    assert "Policy violations: 0 mandatory" in done.stderr
    assert "Estimated cost: not evaluated" in done.stderr


def test_markdown_marks_protected_resources(tmp_path):
    done = plan("prod", "--markdown", str(tmp_path / "pr.md"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "pr.md").read_text()
    assert "| create | `aws:s3:Bucket` | `storage-backups` | yes |" in text
    assert "| create | `aws:s3:Bucket` | `storage-dags` |  |" in text
