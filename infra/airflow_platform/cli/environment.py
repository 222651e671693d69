"""What a pull-request environment's workflow needs besides `pulumi` itself:

* `stack-file`: the pr stack's file, written from the config the offline plan gives it;
* `environment-comment`: its pull-request comment (its Airflow URL, its expiry and how to
  extend it, its cost an hour), written from the stack's outputs and the offline plan's JSON;
  the rendering is `airflow_platform.environment_comment`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from airflow_platform.cli.common import (
    EXIT_USAGE,
    ProjectDir,
    check_output_file,
    fail,
    stack_argument,
)


def _read_json(path: Path, option: str, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"{option} {path}: cannot read it: {error}", EXIT_USAGE) from None
    except json.JSONDecodeError as error:
        raise fail(f"{option} {path}: not JSON ({error}): give {what}", EXIT_USAGE) from None
    if not isinstance(doc, dict):
        raise fail(
            f"{option} {path}: a JSON {type(doc).__name__}, not an object: give {what}",
            EXIT_USAGE,
        )
    return doc


def environment_comment(
    stack: Annotated[str, stack_argument("The environment's stack, such as pr-42.")],
    outputs: Annotated[
        Path,
        typer.Option(
            "--outputs",
            envvar="AIRFLOW_PLATFORM_ENV_OUTPUTS",
            metavar="FILE",
            help="The stack's outputs, as `pulumi stack output --json` writes them.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            envvar="AIRFLOW_PLATFORM_ENV_PLAN",
            metavar="FILE",
            help="The stack's offline plan JSON (`plan STACK --json FILE [--prices FILE]`), for "
            "the cost an hour and the TTL; without it the cost reads not evaluated.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    markdown_out: Annotated[
        Path,
        typer.Option(
            "--markdown",
            envvar="AIRFLOW_PLATFORM_ENV_MARKDOWN",
            metavar="FILE",
            help="Write the comment (markdown) here; - for stdout.",
            callback=check_output_file,
        ),
    ] = Path("-"),
    commit: Annotated[
        str | None,
        typer.Option(
            "--commit",
            envvar="AIRFLOW_PLATFORM_ENV_COMMIT",
            metavar="SHA",
            help="The commit deployed, named in the comment.",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        str,
        typer.Option(
            "--label",
            envvar="AIRFLOW_PLATFORM_ENV_LABEL",
            metavar="LABEL",
            help="The pull-request label that keeps the environment (removing it destroys it).",
        ),
    ] = "preview-env",
) -> None:
    """Write an ephemeral environment's pull-request comment: where its Airflow is, when it
    expires (and that a push extends it), and what it costs an hour (the plan's monthly
    estimate / the cost model's 730 hours; "not evaluated", saying why, when the plan has no
    prices).

    The first line is a hidden marker naming the stack, by which the workflow finds and edits
    its earlier comment. Exit 2 when a file is not what it should be (not JSON, a plan of
    another stack).
    """
    from airflow_platform.environment_comment import comment, plan_stack

    stack_outputs = _read_json(outputs, "--outputs", "`pulumi stack output --json`'s output")
    plan_doc = None
    if plan is not None:
        plan_doc = _read_json(plan, "--plan", "`airflow-platform plan STACK --json`'s output")
        planned = plan_stack(plan_doc)
        if planned not in (None, stack):
            raise fail(f"--plan {plan} is the plan of stack {planned}, not {stack}", EXIT_USAGE)
    text = comment(stack, stack_outputs, plan_doc, commit, label)
    if str(markdown_out) == "-":
        typer.echo(text, nl=False)
        return
    markdown_out.write_text(text)
    Console(stderr=True).print(f"environment comment written to {markdown_out}", highlight=False)


def stack_file(
    stack: Annotated[str, stack_argument("The ephemeral stack, such as pr-42.")],
    project_dir: ProjectDir = None,
) -> None:
    """Write the stack file a pr-<number> stack deploys with: the config the offline plan gives
    it (dev's file, tier aside), as stacks/Pulumi.<stack>.yaml.

    `pulumi up` reads only the stack's own file (Pulumi.yaml's stackConfigDir), while the
    offline plan lets a pr stack without one follow dev's: writing that same config out before
    `pulumi up` makes the deploy read what the plan and the policy checks read. A stack that
    already has a file with its own `config:` keeps it (nothing written). Refused (exit 2) for
    a stack that is not pr-<number>, and when dev's config holds secrets: those are encrypted
    for dev's stack only, so give the pr stack a file of its own.
    """
    import yaml

    from airflow_platform.config.load import EPHEMERAL_STACK
    from airflow_platform.plan.project import Project, ProjectError, read_stack_config

    if not EPHEMERAL_STACK.fullmatch(stack):
        raise fail(
            f"{stack} is not an ephemeral stack: only pr-<number> stacks follow dev's config; "
            "every other stack has its own file in stacks/",
            EXIT_USAGE,
        )
    try:
        project = Project.at(project_dir)
        path = project.stack_file(stack)
        if path.is_file() and (yaml.safe_load(path.read_text()) or {}).get("config"):
            Console(stderr=True).print(f"{path} has its own config: kept as it is", highlight=False)
            return
        config = read_stack_config(project, stack)
    except (ProjectError, yaml.YAMLError) as error:
        raise fail(str(error), EXIT_USAGE) from None
    if config.secret_keys:
        raise fail(
            f"the config {stack} would follow holds secrets ({', '.join(config.secret_keys)}), "
            f"encrypted for that stack only: commit {path.relative_to(project.root)} with the "
            f"pr stack's own (`pulumi config set --secret -s {stack} ...`)",
            EXIT_USAGE,
        )
    existing = yaml.safe_load(path.read_text()) if path.is_file() else None
    document = {**(existing or {}), "config": config.values}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    Console(stderr=True).print(
        f"{path.relative_to(project.root)} written: {len(config.values)} config values",
        highlight=False,
    )
