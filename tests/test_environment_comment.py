"""The ephemeral environment's pull-request comment (`environment-comment STACK --outputs FILE
--plan FILE`): golden files for a real offline plan of `pr-7` without prices (the
repository's state today: no price table committed) and with a price table written by the
real `prices refresh` from the stand-in Price List API (tests/pricing_standin.py: STAND-IN
DATA), plus the rules every comment keeps.

The priced golden pins `pricesAsOf` (the refresh writes today's date); every figure comes from
the stand-in's made-up prices. After an intended change, rewrite the golden files with
`AIRFLOW_PLATFORM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_environment_comment.py` and read
their diff before committing them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_platform.cost.assumptions import HOURS_PER_MONTH
from airflow_platform.environment_comment import comment, marker
from tests.pricing_standin import serve
from tests.test_cost import cli_env, plan_json, run_cli

GOLDEN = Path(__file__).parent / "golden"
STACK = "pr-7"
PRICES_AS_OF = "2026-01-01"
OUTPUTS = {
    "platform": "mwaa",
    "tier": "ephemeral",
    "mwaaWebserverUrl": "0a1b2c3d-4e5f-6789-abcd-ef0123456789.c2.airflow.eu-west-1.on.aws",
    "expiresAt": "2026-12-04T09:00:00Z",
    "dagBucket": "airflow-pr-7-dags-123456789012-eu-west-1",
}
COMMIT = "3f2a9c1d7e5b4a6f8c0d2e4f6a8b0c1d3e5f7a9b"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("AIRFLOW_PLATFORM_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"the comment differs from {name}; see the module docstring"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def unpriced_plan(home) -> dict:
    doc = plan_json(STACK, env=cli_env(home))
    doc.pop("_console")
    return doc


@pytest.fixture(scope="module")
def priced_plan(home, tmp_path_factory) -> dict:
    table = tmp_path_factory.mktemp("prices") / "standin-prices.json"
    with serve() as standin:
        done = run_cli("prices", "refresh", "--output", str(table),
                       env=cli_env(home, standin.url))  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = plan_json(STACK, "--prices", str(table), env=cli_env(home))
    doc.pop("_console")
    doc["cost"]["pricesAsOf"] = PRICES_AS_OF
    return doc


def test_comment_without_prices_matches_the_golden_file_and_gives_no_figure(unpriced_plan):
    assert unpriced_plan["cost"]["pricesAsOf"] is None
    text = comment(STACK, OUTPUTS, unpriced_plan, COMMIT)

    _golden("environment_comment_pr7_unpriced.md", text)
    assert "**Cost:** not evaluated" in text
    assert "prices.json` is not committed" in text
    assert "USD" not in text, "no made-up figure"


def test_comment_with_prices_matches_the_golden_file_and_divides_by_the_models_hours(priced_plan):
    text = comment(STACK, OUTPUTS, priced_plan, COMMIT)

    _golden("environment_comment_pr7_priced.md", text)
    monthly = priced_plan["cost"]["monthly"]
    assert monthly > 0
    assert f"about **{monthly / HOURS_PER_MONTH:,.2f} USD an hour**" in text
    assert f"{monthly:,.2f} USD a month at the cost model's 730 hours a month" in text
    assert f"prices as of {PRICES_AS_OF}" in text


def test_every_comment_opens_with_its_stack_marker_and_states_the_expiry_and_how_to_extend_it(
    unpriced_plan,
):
    text = comment(STACK, OUTPUTS, unpriced_plan)

    assert text.startswith(marker(STACK) + "\n")
    assert "**Expires:** `2026-12-04T09:00:00Z` (UTC)" in text
    assert "push to this pull request" in text
    assert "`ephemeral.ttlHours` (72 h)" in text
    assert f"[https://{OUTPUTS['mwaaWebserverUrl']}](https://{OUTPUTS['mwaaWebserverUrl']})" in text
    assert comment(STACK, OUTPUTS, unpriced_plan) == text, "the same documents, the same bytes"


def test_an_eks_environment_links_its_api_server_and_says_it_is_inside_the_vpc():
    outputs = {"platform": "eks", "airflowApiUrl": "http://internal-a1b2.elb.amazonaws.com:8080",
               "expiresAt": "2026-12-04T09:00:00Z"}  # fmt: skip
    text = comment(STACK, outputs)

    assert "[http://internal-a1b2.elb.amazonaws.com:8080](http://internal-a1b2" in text
    assert "reachable only inside the stack's VPC" in text
    assert "**Cost:** not evaluated (no plan was given" in text


def test_a_ttl_the_stack_config_sets_is_the_one_the_comment_names(unpriced_plan):
    config = {**unpriced_plan["config"], "airflow-platform:ephemeral": {"ttlHours": 24}}
    plan = {**unpriced_plan, "config": config}
    assert "`ephemeral.ttlHours` (24 h)" in comment(STACK, OUTPUTS, plan)


def test_an_output_that_is_not_a_plain_url_is_never_a_link():
    text = comment(STACK, {"platform": "eks", "airflowApiUrl": "javascript:alert(1)"})

    assert "](javascript" not in text
    assert "`javascript:alert(1)`" in text


def test_the_command_writes_the_comment_and_refuses_a_plan_of_another_stack(
    unpriced_plan, home, tmp_path
):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(unpriced_plan))
    out = tmp_path / "comment.md"

    done = run_cli("environment-comment", STACK, "--outputs", str(outputs), "--plan", str(plan),
                   "--commit", COMMIT, "--markdown", str(out), env=cli_env(home))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text() == comment(STACK, OUTPUTS, unpriced_plan, COMMIT)

    other = run_cli("environment-comment", "pr-8", "--outputs", str(outputs), "--plan",
                    str(plan), env=cli_env(home))  # fmt: skip
    assert other.returncode == 2
    assert "is the plan of stack pr-7, not pr-8" in other.stderr

    outputs.write_text("[]")
    broken = run_cli("environment-comment", STACK, "--outputs", str(outputs), env=cli_env(home))
    assert broken.returncode == 2
    assert "a JSON list, not an object" in broken.stderr
