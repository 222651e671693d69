"""The repository stands alone: README and docs/ link only to files that exist in it, point
nowhere outside it, say what exists (the plans' own numbers), and stay a readable size."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_plan import CLI

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(page: Path):
    for target, _ in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+://", target):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to {target}, which does not exist"


def test_nothing_in_the_repository_points_at_files_outside_it():
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".md", ".py", ".sh", ".yaml", ".toml", ".txt"} or not path.exists():
            continue
        if path.name == "test_docs.py":
            continue
        if re.search(r"\.\./shared|shared/DESIGN\.md|POLICY_RULES\.md", path.read_text()):
            offenders.append(name)
    assert offenders == []


def test_readme_links_every_docs_page_and_stays_a_front_door():
    text = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in text, f"README does not link docs/{page.name}"
    assert len(text.splitlines()) <= 700


def test_readme_keeps_planned_work_in_its_roadmap():
    text = (ROOT / "README.md").read_text()
    before, roadmap = text.split("\n## Roadmap\n")
    assert "Nothing below runs today" in roadmap
    # What does not exist yet is named as such wherever the front page mentions it.
    for planned in ("price table committed", "price table is committed"):
        for line in before.splitlines():
            if planned in line:
                assert re.search(r"Roadmap|until|not built|yet", line), line


def _quota_rows() -> dict[str, list[int]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- quota-usage:begin -->")[1].split("<!-- quota-usage:end -->")[0]
    rows = {}
    for line in block.splitlines():
        found = re.match(r"^\| `([^`]+)`[^|]* \|(.*)\|$", line)
        if found:
            rows[found[1]] = [int(cell) for cell in found[2].split("|")]
    return rows


def test_readme_quota_table_is_what_each_stack_declares():
    counted = [
        "aws:ec2/vpc:Vpc",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/natGateway:NatGateway",
        "aws:mwaa/environment:Environment",
        "aws:rds/instance:Instance",
    ]
    rows = _quota_rows()
    assert set(rows) == {"dev", "staging", "prod", "pr-<n>"}
    for stack, row in rows.items():
        done = subprocess.run(
            [CLI, "plan", "pr-9" if stack == "pr-<n>" else stack, "--json", "-"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        types = [s["newState"]["type"] for s in json.loads(done.stdout)["steps"]]
        assert row == [types.count(token) for token in counted], stack


def test_monitoring_page_lists_every_alarm_with_its_condition_per_tier():
    from airflow_platform.alarm_reference import alarm_table

    text = (ROOT / "docs" / "monitoring.md").read_text()
    block = text.split("<!-- alarm-reference:begin -->")[1].split("<!-- alarm-reference:end -->")[0]
    assert block.strip() == alarm_table().strip(), (
        "docs/monitoring.md's alarm table is stale: paste `python -m "
        "airflow_platform.alarm_reference` between its markers"
    )
