"""The reaper: which stacks have expired (pure), each destroyed and removed, one report.

Selection, per stack of the backend:

* a name that is not exactly `pr-<n>` (ASCII digits; `prod`, `dev`, `pr-7-old`, `PR-7`,
  `pr-07x`) is never selected, whatever its outputs say: `ignored`;
* no `expiresAt` output: `skipped`, the stack is mid-creation or was never deployed;
* an `expiresAt` that is not exactly the tagging format (`2026-03-01T09:00:00Z`, UTC), or
  outputs that cannot be read: `attention`. Not selected (a date that cannot be read is not
  a date that has passed), but such a stack can never expire, which is a leak someone must
  see, so it makes the run's exit non-zero, like a failure;
* `expiresAt` later than `now`: `skipped`; at or before `now`: `reap`.

A run destroys each selected stack (oldest expiry first) and removes it from the backend; a
failure is recorded and the next stack proceeds. `--dry-run` lists the same and touches
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from airflow_platform.config.load import EPHEMERAL_STACK
from airflow_platform.tagging import EXPIRES_AT_FORMAT
from airflow_platform.teardown.automation import StackBackend, StackSummary


class Verdict(StrEnum):
    REAP = "reap"
    SKIPPED = "skipped"
    ATTENTION = "attention"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Candidate:
    name: str
    verdict: Verdict
    reason: str
    expires_at: datetime | None = None


def is_reapable_name(name: str) -> bool:
    """Exactly `pr-<n>`: the name config.load.EPHEMERAL_STACK gives the ephemeral tier."""
    return name.isascii() and EPHEMERAL_STACK.fullmatch(name) is not None


def parse_expires_at(value: Any) -> datetime | None:
    """The UTC time of an `expiresAt` in exactly the tagging format, else None. strptime
    alone accepts `2026-3-1T9:0:0Z`; the round trip does not."""
    if not isinstance(value, str) or not value.isascii():
        return None
    try:
        parsed = datetime.strptime(value, EXPIRES_AT_FORMAT)
    except ValueError:
        return None
    if parsed.strftime(EXPIRES_AT_FORMAT) != value:
        return None
    return parsed.replace(tzinfo=UTC)


def judge(stack: StackSummary, now: datetime) -> Candidate:
    if not is_reapable_name(stack.name):
        return Candidate(stack.name, Verdict.IGNORED, "not a pr-<number> stack")
    if stack.outputs_error is not None:
        return Candidate(
            stack.name, Verdict.ATTENTION, f"outputs unreadable: {stack.outputs_error}"
        )
    if stack.expires_at is None:
        return Candidate(stack.name, Verdict.SKIPPED, "no expires-at yet")
    expires_at = parse_expires_at(stack.expires_at)
    if expires_at is None:
        return Candidate(
            stack.name,
            Verdict.ATTENTION,
            f"malformed expires-at {stack.expires_at!r} (want e.g. 2026-03-01T09:00:00Z): "
            "it can never expire; fix or destroy it by hand",
        )
    if expires_at > now:
        return Candidate(stack.name, Verdict.SKIPPED, "not expired", expires_at)
    return Candidate(stack.name, Verdict.REAP, "expired", expires_at)


def select(stacks: Sequence[StackSummary], now: datetime) -> list[Candidate]:
    """Every stack judged; those to reap first, oldest expiry first, then the rest by name."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    judged = [judge(stack, now) for stack in stacks]
    reap = sorted(
        (c for c in judged if c.verdict is Verdict.REAP),
        key=lambda c: (c.expires_at, c.name),
    )
    rest = sorted((c for c in judged if c.verdict is not Verdict.REAP), key=lambda c: c.name)
    return [*reap, *rest]


@dataclass(frozen=True)
class ReapRow:
    stack: str
    expired_at: datetime | None
    action: str
    result: str
    seconds: float | None = None
    failed: bool = False


@dataclass(frozen=True)
class ReapReport:
    rows: tuple[ReapRow, ...]
    ignored: int
    """Stacks that are not pr-<number>, left out of the rows."""
    dry_run: bool

    @property
    def ok(self) -> bool:
        """False when a stack failed or needs attention: the exit is then non-zero."""
        return not any(row.failed for row in self.rows)


def reap(
    backend: StackBackend,
    now: datetime,
    destroy: Callable[[str], None],
    *,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    say: Callable[[str], None] = lambda _: None,
) -> ReapReport:
    """Destroy (`destroy(stack)`) and remove each expired pr-<n> stack; one report."""
    candidates = select(backend.list_stacks(), now)
    rows = []
    for candidate in candidates:
        if candidate.verdict is Verdict.IGNORED:
            continue
        if candidate.verdict is Verdict.SKIPPED:
            rows.append(ReapRow(candidate.name, candidate.expires_at, "skip", candidate.reason))
            continue
        if candidate.verdict is Verdict.ATTENTION:
            rows.append(
                ReapRow(candidate.name, None, "needs attention", candidate.reason, failed=True)
            )
            continue
        if dry_run:
            rows.append(ReapRow(candidate.name, candidate.expires_at, "destroy, remove", "dry run"))
            continue
        say(f"reaping {candidate.name} (expired {candidate.expires_at:%Y-%m-%d %H:%M} UTC)")
        started = clock()
        try:
            destroy(candidate.name)
            backend.remove(candidate.name)
        except Exception as error:  # one stack's failure, whatever it is, must not stop the rest
            rows.append(
                ReapRow(
                    candidate.name,
                    candidate.expires_at,
                    "destroy, remove",
                    f"failed: {error}",
                    clock() - started,
                    failed=True,
                )
            )
            continue
        rows.append(
            ReapRow(
                candidate.name,
                candidate.expires_at,
                "destroy, remove",
                "removed",
                clock() - started,
            )
        )
    ignored = sum(1 for c in candidates if c.verdict is Verdict.IGNORED)
    return ReapReport(tuple(rows), ignored, dry_run)
