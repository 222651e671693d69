"""The reaper (`airflow_platform.teardown.reaper`): only pr-<n> stacks whose expiresAt has
passed are selected, whatever other stacks' outputs say; a malformed expiresAt needs
attention; one failing destroy does not stop the others; a dry run touches nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_platform.teardown.automation import StackSummary
from airflow_platform.teardown.reaper import Verdict, parse_expires_at, reap, select
from tests.teardown_standin import InMemoryBackend

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
PAST = "2026-03-09T12:00:00Z"
FUTURE = "2026-03-11T12:00:00Z"


def verdict(name: str, expires_at: object) -> Verdict:
    (candidate,) = select([StackSummary(name, expires_at)], NOW)
    return candidate.verdict


def test_select_reaps_a_pr_stack_when_its_expires_at_has_passed() -> None:
    assert verdict("pr-7", PAST) is Verdict.REAP


def test_select_reaps_a_pr_stack_when_it_expires_exactly_now() -> None:
    assert verdict("pr-7", "2026-03-10T12:00:00Z") is Verdict.REAP


def test_select_skips_a_pr_stack_when_it_has_not_expired() -> None:
    assert verdict("pr-7", FUTURE) is Verdict.SKIPPED


def test_select_skips_a_pr_stack_when_it_has_no_expires_at_yet() -> None:
    (candidate,) = select([StackSummary("pr-7", None)], NOW)

    assert candidate.verdict is Verdict.SKIPPED
    assert candidate.reason == "no expires-at yet"


@pytest.mark.parametrize(
    "value",
    [
        "2026-3-9T9:0:0Z",  # strptime alone accepts this
        "2026-03-09 12:00:00",
        "2026-03-09T12:00:00+00:00",
        "2026-03-09T12:00:00",
        "2026-02-30T12:00:00Z",
        "yesterday",
        "",
        20260309,
        ["2026-03-09T12:00:00Z"],
        "\uff12026-03-09T12:00:00Z",  # a full-width digit two
    ],
)
def test_select_flags_a_pr_stack_for_attention_when_expires_at_is_malformed(value: object) -> None:
    assert verdict("pr-7", value) is Verdict.ATTENTION


@pytest.mark.parametrize(
    "name",
    ["prod", "dev", "staging", "pr-7-old", "PR-7", "pr-07x", "pr-", "pr-7\n", "xpr-7", "pr-\u0667"],
)
def test_select_never_selects_a_stack_not_named_pr_number_even_when_expired(name: str) -> None:
    assert verdict(name, PAST) is Verdict.IGNORED


def test_select_never_selects_prod_when_it_is_tagged_ephemeral_by_mistake() -> None:
    stacks = [StackSummary("prod", PAST), StackSummary("pr-3", PAST)]

    selected = [c.name for c in select(stacks, NOW) if c.verdict is Verdict.REAP]

    assert selected == ["pr-3"]


def test_select_orders_the_stacks_to_reap_oldest_expiry_first() -> None:
    stacks = [
        StackSummary("pr-2", "2026-03-09T00:00:00Z"),
        StackSummary("pr-10", "2026-03-01T00:00:00Z"),
        StackSummary("pr-1", FUTURE),
    ]

    assert [c.name for c in select(stacks, NOW)] == ["pr-10", "pr-2", "pr-1"]


def test_select_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        select([], datetime(2026, 3, 10))  # a naive datetime: the mistake under test


def test_parse_expires_at_reads_the_tagging_format_as_utc() -> None:
    assert parse_expires_at(PAST) == datetime(2026, 3, 9, 12, tzinfo=UTC)


def backend_with(**stacks: object) -> InMemoryBackend:
    backend = InMemoryBackend()
    for name, expires_at in stacks.items():
        outputs = {} if expires_at is None else {"expiresAt": expires_at}
        backend.add(name.replace("_", "-"), ["aws:s3/bucket:Bucket"], **outputs)
    return backend


def test_reap_destroys_and_removes_the_others_when_one_destroy_fails() -> None:
    backend = backend_with(
        pr_1="2026-03-01T00:00:00Z", pr_2="2026-03-02T00:00:00Z", pr_3="2026-03-03T00:00:00Z"
    )
    backend.fail_destroy.add("pr-2")

    def destroy(stack: str) -> None:
        backend.destroy(stack, None)

    report = reap(backend, NOW, destroy)

    assert backend.mutations() == [
        ("destroy", "pr-1", None),
        ("remove", "pr-1"),
        ("destroy", "pr-2", None),
        ("destroy", "pr-3", None),
        ("remove", "pr-3"),
    ]
    assert [(row.stack, row.failed) for row in report.rows] == [
        ("pr-1", False),
        ("pr-2", True),
        ("pr-3", False),
    ]
    assert "failed: destroying pr-2 failed" in report.rows[1].result
    assert not report.ok


def test_reap_is_ok_when_every_expired_stack_is_removed_and_the_rest_left_alone() -> None:
    backend = backend_with(pr_1=PAST, pr_2=FUTURE, pr_3=None, prod=PAST, dev=None)

    report = reap(backend, NOW, lambda stack: backend.destroy(stack, None))

    assert backend.mutations() == [("destroy", "pr-1", None), ("remove", "pr-1")]
    assert [(row.stack, row.action, row.result) for row in report.rows] == [
        ("pr-1", "destroy, remove", "removed"),
        ("pr-2", "skip", "not expired"),
        ("pr-3", "skip", "no expires-at yet"),
    ]
    assert report.ignored == 2
    assert report.ok


def test_reap_is_not_ok_when_a_pr_stack_has_a_malformed_expires_at() -> None:
    backend = backend_with(pr_1="next tuesday")

    report = reap(backend, NOW, lambda stack: backend.destroy(stack, None))

    assert backend.mutations() == []
    assert [(row.stack, row.action) for row in report.rows] == [("pr-1", "needs attention")]
    assert not report.ok


def test_reap_is_not_ok_when_a_pr_stack_outputs_cannot_be_read() -> None:
    class Unreadable(InMemoryBackend):
        def list_stacks(self) -> list[StackSummary]:
            return [StackSummary("pr-4", None, outputs_error="passphrase is wrong")]

    report = reap(Unreadable(), NOW, lambda stack: None)

    assert [(row.stack, row.failed) for row in report.rows] == [("pr-4", True)]
    assert "passphrase is wrong" in report.rows[0].result


def test_reap_touches_nothing_when_dry_run() -> None:
    backend = backend_with(pr_1=PAST, pr_2=PAST)
    destroyed: list[str] = []

    report = reap(backend, NOW, destroyed.append, dry_run=True)

    assert destroyed == []
    assert backend.mutations() == []
    assert [(row.stack, row.result) for row in report.rows] == [
        ("pr-1", "dry run"),
        ("pr-2", "dry run"),
    ]
