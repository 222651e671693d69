"""The README says what the code does: its config reference is the schema's, its commands exist."""

from __future__ import annotations

import re

from airflow_platform.config.reference import BEGIN, END, reference
from tests.conftest import ROOT


def test_readme_config_reference_matches_schema():
    text = (ROOT / "README.md").read_text()
    found = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.DOTALL)
    assert found, "README.md lacks the config-reference markers"
    assert found.group(0) == reference(), (
        "README.md's config reference is stale: replace it with "
        "`.venv/bin/airflow-platform config-reference`"
    )


def test_readme_names_the_two_setup_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text()
    assert "make plan" in text
    assert "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_reference_lists_every_leaf_key_of_the_schema():
    table = reference()
    for key in (
        "tier",
        "platform",
        "network.azCount",
        "network.existingVpc.vpcId",
        "storage.logArchive.expireDays",
        "backup.retentionDays",
        "encryption.customerManagedKey",
        "ephemeral.ttlHours",
    ):
        assert f"`airflow-platform:{key}`" in table, key
