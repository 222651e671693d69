"""Which files of `dags/` ship, keyed and hashed.

`.airflowignore` (glob syntax, Airflow 3's default) is read the way Airflow's DAG processor
reads it (`airflow._shared.module_loading.file_discovery`): every `.airflowignore` in the
tree adds its patterns for its own directory and those below, gitignore rules decide (a
pattern with a `/` before its end is anchored to the file's directory, a trailing `/` matches
directories only, `!` re-includes, the last matching pattern wins), and an ignored directory
is not entered. What Airflow would not parse does not ship. The `.airflowignore` files
themselves do ship (Airflow on the workers reads them too); bytecode caches never do.
The dbt project (`bundle.dbt`: `dags/dbt/`, else the repository's `dbt/` beside `dags/`)
ships under `dbt/`: its sources, manifest and fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

IGNORE_FILE = ".airflowignore"
DAGS_PREFIX = "dags"
_NEVER_SHIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".git"})
_NEVER_SHIPPED_SUFFIXES = (".pyc", ".pyo")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BundleFile:
    """One shipped file: its path in the bundle (posix), where it is, its hash and size."""

    path: str
    source: Path
    sha256: str
    size: int

    @property
    def key(self) -> str:
        """Its S3 key under the DAG bucket."""
        return dag_key(self.path)


def dag_key(path: str, prefix: str = DAGS_PREFIX) -> str:
    """`dags/<path>`: MWAA reads the DAG folder from the bucket's `dags/` prefix."""
    return f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Rule:
    pattern: GitIgnoreSpecPattern
    anchor: Path | None
    """The directory an anchored pattern is relative to; None: match the name at any level."""
    dir_only: bool


def _rules(ignore_file: Path) -> list[_Rule]:
    rules = []
    for raw in ignore_file.read_text().split("\n"):
        line = re.sub(r"\s*#.*", "", raw)
        if not line or line.strip() == "/":
            continue
        anchored = line.startswith("/") or "/" in line.rstrip("/")
        bare = line.lstrip("!")
        dir_only = bare.rstrip() != bare.rstrip().rstrip("/")
        rules.append(_Rule(GitIgnoreSpecPattern(line), ignore_file.parent if anchored else None,
                           dir_only))  # fmt: skip
    return rules


def _ignored(path: Path, is_dir: bool, rules: list[_Rule]) -> bool:
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        relative = path.relative_to(rule.anchor).as_posix() if rule.anchor else path.name
        if is_dir:
            relative += "/"
        if rule.pattern.include is not None and rule.pattern.match_file(relative) is not None:
            ignored = rule.pattern.include
    return ignored


def bundle_files(source: Path) -> list[BundleFile]:
    """The files under `source` that ship, sorted by path."""
    source = source.resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"the DAG folder {source} does not exist")
    inherited: dict[Path, list[_Rule]] = {source: []}
    found: list[BundleFile] = []
    for root_text, dirs, files in os.walk(source):
        root = Path(root_text)
        rules = list(inherited.get(root, []))
        if (root / IGNORE_FILE).is_file():
            rules += _rules(root / IGNORE_FILE)
        dirs[:] = sorted(
            d for d in dirs if d not in _NEVER_SHIPPED_DIRS and not _ignored(root / d, True, rules)
        )
        for name in dirs:
            inherited[root / name] = rules
        for name in sorted(files):
            path = root / name
            if name.endswith(_NEVER_SHIPPED_SUFFIXES) or path.is_symlink():
                continue
            if name != IGNORE_FILE and _ignored(path, False, rules):
                continue
            found.append(
                BundleFile(
                    path=path.relative_to(source).as_posix(),
                    source=path,
                    sha256=sha256_file(path),
                    size=path.stat().st_size,
                )
            )
    from airflow_platform.bundle.dbt import find_project, project_files

    project = find_project(source)
    if project is not None:  # dags/dbt/ in the bucket, whichever layout it comes from
        found += project_files(project)
    return sorted(found, key=lambda f: f.path)
