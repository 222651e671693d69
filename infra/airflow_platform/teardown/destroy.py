"""`destroy_stack`: an ephemeral stack torn down so that nothing is left behind.

Refuses any tier but ephemeral, before it touches anything. Then the phases of `order` in
turn, each a `pulumi destroy` of its targets followed by a wait (`settle`) for what AWS
cleans up on its own time; then the orphan audit (`audit.audit_stack`, passed in as a
callable), repeated for a bounded time while leftovers remain (the Resource Groups Tagging
API keeps answering for resources deleted moments ago), and a failure listing the orphans if
any remain. Leftovers that are only pending deletion (a KMS key in its waiting period) do
not make the audit fail: `AuditReport.clean` decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_platform.config.model import Tier
from airflow_platform.teardown.automation import StackBackend
from airflow_platform.teardown.order import Phase, destroy_phases
from airflow_platform.teardown.settle import (
    ClientFor,
    Remaining,
    SettleScope,
    SettleTimeoutError,
    wait_until_settled,
)

VPC_OUTPUT = "vpcId"


class DestroyRefusedError(Exception):
    """The stack is not one `airflow-platform destroy` may touch."""


class DestroyError(Exception):
    """A phase, a wait or the audit failed; the message says which and what is left."""


@dataclass(frozen=True)
class Timing:
    """How long to wait for AWS, in seconds."""

    settle_timeout: float = 45 * 60
    """Per wait. Lambda's ENIs alone can take 20-35 min (order.py's sources), and the
    AWS provider waits up to 45 min for them (pulumi/pulumi-aws#4392)."""
    audit_timeout: float = 10 * 60
    """How long the audit is repeated while leftovers remain."""
    interval: float = 15.0
    """Between polls."""


@dataclass(frozen=True)
class DestroyResult:
    stack: str
    phases: tuple[Phase, ...]
    audit: Any
    """The last AuditReport (clean)."""
    seconds: float


def refuse_unless_ephemeral(stack: str, tier: Tier) -> None:
    if tier is not Tier.EPHEMERAL:
        raise DestroyRefusedError(
            f"{stack} is a {tier.value} stack: `airflow-platform destroy` tears down ephemeral "
            "(pr-<number>) stacks only; destroy a dev, staging or prod stack deliberately with "
            "`pulumi destroy`, after turning its deletion protection off"
        )


def destroy_stack(
    stack: str,
    tier: Tier,
    backend: StackBackend,
    settle_clients: ClientFor,
    audit: Callable[[], Any],
    *,
    project: str,
    region: str,
    timing: Timing = Timing(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda _: None,
) -> DestroyResult:
    """Destroy `stack` phase by phase, wait for AWS, then audit; raises DestroyRefusedError
    (not ephemeral) or DestroyError. `audit()` returns an AuditReport (`.clean`,
    `.orphans`, `.leftovers`)."""
    refuse_unless_ephemeral(stack, tier)
    started = clock()
    vpc_id = backend.outputs(stack).get(VPC_OUTPUT)
    scope = SettleScope(
        project=project,
        stack=stack,
        region=region,
        vpc_id=vpc_id if isinstance(vpc_id, str) else None,
    )
    phases = destroy_phases(backend.resources(stack))
    for number, phase in enumerate(phases, start=1):
        count = "everything left" if phase.targets is None else f"{len(phase.targets)} resources"
        say(f"phase {number}/{len(phases)}: {phase.name} ({count}): {phase.why}")
        try:
            backend.destroy(stack, phase.targets)
        except Exception as error:  # the backend's error, whatever its kind, ends the run
            raise DestroyError(f"{stack}: phase {number} ({phase.name}) failed: {error}") from error
        if phase.settle:
            say(f"phase {number}: waiting for AWS to clean up {', '.join(phase.settle)}")

            def report(left: Any, waited: float, number: int = number) -> None:
                say(f"phase {number}: {_summary(left)} still there after {waited:.0f} s")

            try:
                waited = wait_until_settled(
                    phase.settle,
                    scope,
                    settle_clients,
                    timeout=timing.settle_timeout,
                    interval=timing.interval,
                    clock=clock,
                    sleep=sleep,
                    on_poll=report,
                )
            except SettleTimeoutError as error:
                raise DestroyError(
                    f"{stack}: after phase {number} ({phase.name}): {error}"
                ) from None
            say(f"phase {number}: AWS finished cleaning up ({waited:.0f} s)")
    result = _audit_until_clean(stack, audit, timing, clock, sleep, say)
    return DestroyResult(stack, phases, result, clock() - started)


def _audit_until_clean(
    stack: str,
    audit: Callable[[], Any],
    timing: Timing,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> Any:
    started = clock()
    while True:
        try:
            report = audit()
        except Exception as error:  # AuditError, or an AWS error the audit let through
            raise DestroyError(f"{stack}: the orphan audit could not run: {error}") from error
        if report.clean:
            pending = [item for item in report.leftovers if item.pending_deletion]
            say(
                f"audit: nothing left of {stack}"
                + (f" ({len(pending)} pending deletion)" if pending else "")
            )
            return report
        waited = clock() - started
        if waited >= timing.audit_timeout:
            listed = "; ".join(
                f"{item.kind} {item.identifier} in {item.region} (found by {item.found_by})"
                for item in report.orphans
            )
            raise DestroyError(f"{stack}: the audit found orphans: {listed}")
        say(f"audit: {len(report.orphans)} leftover(s) of {stack}, asking again")
        sleep(min(timing.interval, max(timing.audit_timeout - waited, 0.0)))


def _summary(left: Any) -> str:
    items: list[Remaining] = list(left)
    shown = ", ".join(str(item) for item in items[:3])
    return shown + (f" and {len(items) - 3} more" if len(items) > 3 else "")
