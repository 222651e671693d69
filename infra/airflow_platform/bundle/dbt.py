"""The dbt project beside the DAGs: its manifest, built once and checked for staleness, and the
files of it that ship.

The `elt_dbt` DAG renders the project from `target/manifest.json` (Cosmos's
`LoadMode.DBT_MANIFEST`), so the DAG processor never runs dbt. The manifest is built here by
`dbt parse` with the dbt of its own virtualenv (`airflow-platform dbt-manifest`, and
`ship-dags` when it is missing or stale), and beside it `target/manifest.sources.json` records
the SHA-256 of every source file of the project it was built from. `check-dags` recomputes
them: a manifest whose project changed since (a file edited, added or removed) is refused,
naming the manifest and the file.

Source files are every file of the project but dbt's outputs and local state (`target/`,
`dbt_packages/`, `logs/`, hidden files), so a new kind of file (a macro folder, a
`packages.yml`) is covered without a list to keep up to date.

In the repository the project is `dbt/`, a sibling of `dags/`; in the bucket it ships under
`dags/dbt/` (project files, the manifest and its fingerprint; nothing else of `target/`),
which `.airflowignore` keeps the DAG processor out of.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from airflow_platform.bundle.files import BundleFile, sha256_file

# Where the project is, what its manifest is called and which variable names dbt's own
# virtualenv: the DAG's own answers (platform_ops.dbt_elt), so shipping and running agree.
from platform_ops.dbt_elt import DBT_EXECUTABLE_ENV, MANIFEST, PROJECT_FILE, project_dir
from platform_ops.dbt_elt import PROJECT_DIR as DBT_DIR

FINGERPRINT = "target/manifest.sources.json"
"""The SHA-256 of each source file the manifest was built from."""
LOCAL_DBT = ".venv-dbt/bin/dbt"
"""The repository's dbt virtualenv (the Makefile's), relative to the repository root."""
NOT_SOURCES = frozenset({"target", "dbt_packages", "logs", "__pycache__"})
PARSE_TIMEOUT_SECONDS = 600
# `dbt parse` loads the adapter from a profile but never connects: a throwaway profile with no
# credentials (the run-time profile comes from the Airflow connection `dwh`, through Cosmos).
_PARSE_PROFILE = """\
{profile}:
  target: {target}
  outputs:
    {target}:
      type: postgres
      host: localhost
      port: 5432
      user: parse-only
      password: parse-only
      dbname: parse_only
      schema: parse_only
      threads: 1
"""


class DbtManifestError(Exception):
    """The manifest is missing or stale, or could not be built; the message names the file."""


@dataclass(frozen=True)
class DbtProject:
    root: Path
    label: str
    """How messages name the project folder, e.g. `dbt`."""

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def fingerprint(self) -> Path:
        return self.root / FINGERPRINT

    def named(self, relative: str) -> str:
        return f"{self.label}/{relative}"


def find_project(dags_folder: Path) -> DbtProject | None:
    """The dbt project that ships with `dags_folder`: `<dags>/dbt/` (the shipped layout), else
    `<dags>/../dbt/` (the repository's); None when there is none."""
    try:
        return DbtProject(project_dir(dags_folder), DBT_DIR)
    except FileNotFoundError:
        return None


def _source_paths(root: Path) -> list[Path]:
    found = []
    for dir_text, dirs, files in os.walk(root):
        base = Path(dir_text)
        dirs[:] = sorted(d for d in dirs if d not in NOT_SOURCES and not d.startswith("."))
        found += [base / f for f in files if not f.startswith(".")]
    return sorted(found)


def source_hashes(root: Path) -> dict[str, str]:
    """`{path relative to the project: sha256}` of the project's source files."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in _source_paths(root)}


def manifest_problem(project: DbtProject) -> str | None:
    """Why the project's manifest cannot be used (missing, or stale naming the first changed
    file), or None when it matches the project's sources."""
    rebuild = "run `airflow-platform dbt-manifest` (ship-dags builds it too)"
    if not project.manifest.is_file():
        return f"{project.named(MANIFEST)} is missing; {rebuild}"
    try:
        recorded = json.loads(project.fingerprint.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return (
            f"{project.named(MANIFEST)} has no readable fingerprint "
            f"({project.named(FINGERPRINT)}), so whether it is current is unknown; {rebuild}"
        )
    current = source_hashes(project.root)
    for path in sorted(set(recorded) | set(current)):
        if recorded.get(path) != current.get(path):
            how = "changed"
            if path not in recorded or path not in current:
                how = "added" if path not in recorded else "removed"
            return (
                f"{project.named(MANIFEST)} is stale: {project.named(path)} {how} since it was "
                f"built; {rebuild}"
            )
    return None


def dbt_executable(repo_root: Path | None = None) -> str:
    """`PLATFORM_DBT_EXECUTABLE`, else the repository's `.venv-dbt/bin/dbt`, else `dbt` on
    PATH; DbtManifestError naming all three when there is none."""
    configured = os.environ.get(DBT_EXECUTABLE_ENV)
    if configured:
        return configured
    if repo_root is not None and (repo_root / LOCAL_DBT).is_file():
        return str(repo_root / LOCAL_DBT)
    found = shutil.which("dbt")
    if found:
        return found
    raise DbtManifestError(
        f"no dbt to build the manifest with: set {DBT_EXECUTABLE_ENV}, create {LOCAL_DBT} "
        "(the Makefile's test set-up does) or put dbt on PATH"
    )


def build_manifest(project: DbtProject, executable: str) -> Path:
    """`dbt parse` the project into its `target/manifest.json` and record its fingerprint; the
    manifest's path. The sources are hashed before the parse: a file changed during it makes
    the fingerprint, not the manifest, out of date, and the next check says so."""
    hashes = source_hashes(project.root)
    project_config = (project.root / PROJECT_FILE).read_text()
    profile = _profile_name(project_config)
    with tempfile.TemporaryDirectory(prefix="dbt-parse-profile-") as profiles_dir:
        Path(profiles_dir, "profiles.yml").write_text(
            _PARSE_PROFILE.format(profile=profile, target="airflow")
        )
        try:
            done = subprocess.run(  # noqa: S603 - the configured dbt, list argv, no shell
                [executable, "parse", "--no-partial-parse", "--profiles-dir", profiles_dir,
                 "--project-dir", str(project.root), "--target", "airflow"],
                capture_output=True, text=True, timeout=PARSE_TIMEOUT_SECONDS, check=False,
                env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DbtManifestError(f"`{executable} parse` did not run: {error}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-20:]
        raise DbtManifestError(
            f"`dbt parse` of {project.root} failed ({done.returncode}):\n" + "\n".join(tail)
        )
    if not project.manifest.is_file():
        raise DbtManifestError(f"`dbt parse` wrote no {project.named(MANIFEST)}")
    trim_manifest(project.manifest)
    project.fingerprint.write_text(json.dumps({"files": hashes}, indent=1, sort_keys=True) + "\n")
    return project.manifest


RENDERING_DROPS = ("macros",)
"""Manifest sections the DAG's rendering never reads: `macros` is dbt's and its adapter's
built-in macros, about four fifths of the file's bytes for this project, and every parse of
the DAG would decode it (Cosmos reads `nodes`, `sources`, `exposures`, `metadata` and
`selectors`: cosmos/dbt/graph.py, `_load_nodes_from_manifest_data`). dbt never reads this file
back: a task's dbt parses the project itself (Cosmos copies the manifest beside it, and dbt
overwrites it)."""


def trim_manifest(path: Path) -> None:
    """Rewrite dbt's manifest at `path` without RENDERING_DROPS, compact."""
    manifest = json.loads(path.read_text())
    for section in RENDERING_DROPS:
        manifest.pop(section, None)
    path.write_text(json.dumps(manifest, separators=(",", ":")))


def _profile_name(project_config: str) -> str:
    """dbt_project.yml's `profile:` (a top-level scalar; PyYAML is not needed to read it)."""
    for line in project_config.splitlines():
        if line.startswith("profile:"):
            return line.partition(":")[2].strip().strip("'\"")
    raise DbtManifestError(f"{PROJECT_FILE} names no profile")


def project_files(project: DbtProject) -> list[BundleFile]:
    """What ships of the project, under `dbt/<path>`: its source files, the manifest and the
    fingerprint (not the rest of `target/`, `logs/` or installed packages)."""
    paths = [*_source_paths(project.root), project.manifest, project.fingerprint]
    return [
        BundleFile(
            path=f"{DBT_DIR}/{p.relative_to(project.root).as_posix()}",
            source=p,
            sha256=sha256_file(p),
            size=p.stat().st_size,
        )
        for p in paths
        if p.is_file()
    ]
