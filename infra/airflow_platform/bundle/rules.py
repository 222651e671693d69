"""The DAG quality gate's rules, beyond "it imports": what every DAG in the bundle must set,
and what a DAG file must not import at its top level.

Two kinds of check, each where it can be decided:

- **On the parsed DAG** (`dag_problems`, given what DagBag built): every task has an owner
  other than Airflow's default, at least one retry and a failure callback (its own or the
  DAG's); the DAG has tags. These hold however the file builds them (default_args, a shared
  dict, a factory).
- **On the file's syntax tree** (`source_problems`): `catchup` and `max_active_runs` are given
  explicitly to each `DAG(...)` / `@dag(...)`, because their defaults come from the
  environment's configuration and differ between a laptop and production; and no heavy
  module is imported at module level, where the DAG processor pays for it on every parse
  (import it inside the task instead).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

HEAVY_MODULES = frozenset(
    {
        "boto3",
        "botocore",
        "pandas",
        "numpy",
        "polars",
        "pyarrow",
        "requests",
        "httpx",
        "psycopg",
        "psycopg2",
        "sqlalchemy",
        "pulumi",
        "pulumi_aws",
        "pulumi_kubernetes",
        "scipy",
        "sklearn",
        "torch",
        "tensorflow",
        "kubernetes",
        "snowflake",
        "google.cloud",
        "dbt",
    }
)
"""Top-level packages slow to import (tens to hundreds of milliseconds, each parse)."""
EXPLICIT_DAG_ARGUMENTS = ("catchup", "max_active_runs")
DEFAULT_OWNER = "airflow"
"""`[operators] default_owner`: what a task gets when nobody set an owner."""
_DAG_CALLABLES = frozenset({"DAG", "dag"})


def dag_problems(dag: Any) -> list[str]:
    """What the parsed `dag` lacks, one message per rule and task set."""
    problems: list[str] = []
    if not dag.tags:
        problems.append(f"{dag.dag_id}: no tags")
    dag_callback = getattr(dag, "on_failure_callback", None)
    rules = [
        ("no owner (set default_args owner)", lambda t: t.owner and t.owner != DEFAULT_OWNER),
        ("no retries (set default_args retries >= 1)", lambda t: (t.retries or 0) >= 1),
        (
            "no failure callback (set on_failure_callback, e.g. task_failure_alert())",
            lambda t: bool(t.on_failure_callback) or bool(dag_callback),
        ),
    ]
    for message, holds in rules:
        failing = sorted(task.task_id for task in dag.tasks if not holds(task))
        if failing:
            problems.append(f"{dag.dag_id}: {message}: {_listed(failing)}")
    return problems


def source_problems(source: str, filename: str = "<dag file>") -> list[str]:
    """What the DAG file's text breaks: heavy top-level imports, and DAG calls without an
    explicit `catchup` or `max_active_runs`. A file that does not parse is the import
    check's business, not this one's."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError:
        return []
    problems = [
        f"line {line}: imports {module} at module level; import it inside the task"
        for line, module in _top_level_imports(tree)
        if _is_heavy(module)
    ]
    for line, name in _bare_dag_decorators(tree):
        problems.append(
            f"line {line}: @{name} without arguments does not set "
            f"{' or '.join(EXPLICIT_DAG_ARGUMENTS)} explicitly"
        )
    for call in _dag_calls(tree):
        given = {keyword.arg for keyword in call.keywords}
        if None in given:  # **kwargs: the arguments cannot be read from the text
            continue
        missing = [name for name in EXPLICIT_DAG_ARGUMENTS if name not in given]
        if missing:
            problems.append(
                f"line {call.lineno}: {_call_name(call)}(...) does not set "
                f"{' or '.join(missing)} explicitly"
            )
    return problems


def _top_level_imports(tree: ast.Module) -> Iterable[tuple[int, str]]:
    """Imports that run when the module is imported: module level, including inside
    top-level `if`/`try`/`with` blocks, but not inside functions or classes."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # the TYPE_CHECKING branch never runs
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_heavy(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:n]) in HEAVY_MODULES for n in range(1, len(parts) + 1))


def _dag_calls(tree: ast.Module) -> Iterable[ast.Call]:
    """`DAG(...)`, `dag(...)` and `@dag(...)` calls, by name or as `airflow.sdk.<name>`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in _DAG_CALLABLES:
            yield node


def _bare_dag_decorators(tree: ast.Module) -> Iterable[tuple[int, str]]:
    """`@dag` used without a call: every argument is left to the defaults."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                name = (
                    decorator.id
                    if isinstance(decorator, ast.Name)
                    else (decorator.attr if isinstance(decorator, ast.Attribute) else "")
                )
                if name == "dag":
                    yield decorator.lineno, name


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _listed(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"
