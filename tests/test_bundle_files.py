"""The bundle as files: what ships is what Airflow would parse (its own `.airflowignore`
walk is the reference), keys and hashes are stable, `plugins.zip` depends on content only,
and MWAA's requirements carry the pinned constraints."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_platform.bundle import (
    build_plugins_zip,
    bundle_files,
    dag_key,
    mwaa_requirements,
    sha256_file,
)
from airflow_platform.versions import Versions, versions
from tests.conftest import ROOT, write_tree


def shipped(source: Path) -> set[str]:
    return {f.path for f in bundle_files(source)}


def airflow_would_walk(source: Path) -> set[str]:
    """The files Airflow's DAG processor lists under `source` (glob `.airflowignore`)."""
    from airflow._shared.module_loading.file_discovery import find_path_from_directory

    found = find_path_from_directory(source, ".airflowignore", "glob")
    return {Path(path).relative_to(source).as_posix() for path in found}


def python_files(paths: set[str]) -> set[str]:
    return {path for path in paths if path.endswith(".py")}


# A tree built to trip an ignore implementation: negation after a match, patterns anchored
# by a leading or a middle slash, directory-only patterns, nested ignore files whose rules
# reach only below them, `**`, character classes, comments and blank lines.
TRICKY_TREE = {
    ".airflowignore": "\n".join(
        [
            "# comments and blank lines are skipped",
            "",
            "*_test.py",
            "!keep_test.py",
            "/scratch/",
            "build/",
            "docs/*.py",
            "**/fixtures",
            "[ab]_gen.py",
            "?_tmp.py",
            "generated  # a trailing comment",
        ]
    ),
    "dag.py": "",
    "a_test.py": "",
    "keep_test.py": "",
    "scratch/s.py": "",
    "pkg/scratch/s.py": "",
    "build/b.py": "",
    "pkg/build/b.py": "",
    "build.py": "",
    "docs/d.py": "",
    "docs/deep/d.py": "",
    "pkg/docs/d.py": "",
    "pkg/fixtures/f.py": "",
    "fixtures.py": "",
    "a_gen.py": "",
    "c_gen.py": "",
    "x_tmp.py": "",
    "xy_tmp.py": "",
    "generated/g.py": "",
    "pkg/.airflowignore": "local.py\n/anchored.py\n!b_gen.py\n",
    "pkg/local.py": "",
    "local.py": "",
    "pkg/anchored.py": "",
    "pkg/sub/anchored.py": "",
    "pkg/b_gen.py": "",
    "pkg/sub/local.py": "",
}


def test_bundle_ships_exactly_the_python_files_airflow_parses_on_a_tricky_tree(
    tmp_path: Path,
) -> None:
    source = write_tree(tmp_path / "dags", TRICKY_TREE)

    ours = python_files(shipped(source))

    assert ours == python_files(airflow_would_walk(source))
    # And the tree does exercise the rules (the reference could be wrong in the same way).
    assert {"keep_test.py", "pkg/scratch/s.py", "build.py", "docs/deep/d.py",
            "fixtures.py", "c_gen.py", "xy_tmp.py", "local.py",
            "pkg/sub/anchored.py", "pkg/b_gen.py"} <= ours  # fmt: skip
    assert not {"a_test.py", "scratch/s.py", "pkg/build/b.py", "docs/d.py",
                "pkg/fixtures/f.py", "a_gen.py", "x_tmp.py", "generated/g.py",
                "pkg/local.py", "pkg/sub/local.py", "pkg/anchored.py"} & ours  # fmt: skip


_DIRS = ["a", "b", "build", "a/b", "a/build", "b/a", "a/b/c"]
_FILES = ["x.py", "y.py", "keep.py", "x_test.py", "a.py", "b.py", "notes.md"]
_PATTERNS = [
    "*.py", "!*.py", "!keep.py", "*_test.py", "x.py", "/x.py", "!x.py", "y.*", "?.py",
    "[xy].py", "a/", "/a/", "!a/", "b", "build/", "!build/", "a/b", "a/*.py", "a/**/x.py",
    "**/b", "b/**", "**/c/*.py", "# x.py", "  ", "notes.md",
]  # fmt: skip
trees = st.fixed_dictionaries(
    {
        "files": st.lists(
            st.tuples(st.sampled_from(["", *_DIRS]), st.sampled_from(_FILES)), max_size=25
        ),
        "ignores": st.dictionaries(
            st.sampled_from(["", *_DIRS]),
            st.lists(st.sampled_from(_PATTERNS), min_size=1, max_size=5),
            max_size=3,
        ),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees)
def test_bundle_ships_the_python_files_airflow_parses_on_generated_trees(tree: dict) -> None:
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory)
        for folder, name in tree["files"]:
            write_tree(source, {f"{folder}/{name}".lstrip("/"): "x = 1\n"})
        for folder, patterns in tree["ignores"].items():
            write_tree(source, {f"{folder}/.airflowignore".lstrip("/"): "\n".join(patterns) + "\n"})

        assert python_files(shipped(source)) == python_files(airflow_would_walk(source)), tree


def test_bundle_files_are_sorted_keyed_under_dags_and_hashed(tmp_path: Path) -> None:
    source = write_tree(tmp_path / "dags", {"b.py": "b = 1\n", "a/z.py": "z = 1\n", "c.sql": "s"})

    files = bundle_files(source)

    assert [f.path for f in files] == ["a/z.py", "b.py", "c.sql"]
    assert [f.key for f in files] == ["dags/a/z.py", "dags/b.py", "dags/c.sql"]
    for file in files:
        content = (source / file.path).read_bytes()
        assert file.sha256 == hashlib.sha256(content).hexdigest() == sha256_file(file.source)
        assert file.size == len(content)


def test_bundle_files_ship_ignore_files_but_never_bytecode_caches(tmp_path: Path) -> None:
    source = write_tree(
        tmp_path / "dags",
        {
            ".airflowignore": "lib/\n",
            "dag.py": "",
            "__pycache__/dag.cpython-312.pyc": "",
            "sub/__pycache__/x.py": "",
            "stale.pyc": "",
            "lib/helpers.py": "",
        },
    )

    assert shipped(source) == {".airflowignore", "dag.py"}


def test_bundle_files_raise_when_the_folder_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bundle_files(tmp_path / "missing")


def test_repository_bundle_ships_the_dag_files_and_not_the_logic_package() -> None:
    paths = shipped(ROOT / "dags")

    assert "metadata_backup.py" in paths
    assert not {p for p in paths if p.startswith("platform_ops/")}
    assert python_files(paths) == python_files(airflow_would_walk(ROOT / "dags"))


@pytest.mark.parametrize(
    ("path", "prefix", "key"),
    [("a/b.py", "dags", "dags/a/b.py"), ("a.py", "/dags/", "dags/a.py"), ("a.py", "", "a.py")],
)
def test_dag_key_puts_the_path_under_the_prefix(path: str, prefix: str, key: str) -> None:
    assert dag_key(path, prefix) == key


# plugins.zip


PACKAGE = {
    "platform_ops/__init__.py": '"""ops"""\n',
    "platform_ops/backup/__init__.py": "",
    "platform_ops/backup/s3.py": "BUCKET = 'x'\n",
    "platform_ops/alerts.py": "def alert() -> None: ...\n",
}


def build_copy(root: Path, order: list[str], mtime: int, mode: int) -> Path:
    for relative in order:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PACKAGE[relative])
        path.chmod(mode)
        os.utime(path, (mtime, mtime))
    return root


def test_plugins_zip_is_byte_identical_when_only_times_order_and_modes_differ(
    tmp_path: Path,
) -> None:
    names = sorted(PACKAGE)
    first = build_copy(tmp_path / "one", names, 1_600_000_000, 0o644)
    second = build_copy(tmp_path / "two", list(reversed(names)), 1_900_000_000, 0o600)
    (second / "platform_ops" / "__pycache__").mkdir()
    (second / "platform_ops" / "__pycache__" / "alerts.cpython-312.pyc").write_bytes(b"\0")
    (second / "platform_ops" / "stale.pyc").write_bytes(b"\0")

    one = build_plugins_zip(first, ["platform_ops"])
    two = build_plugins_zip(second, ["platform_ops"])

    assert one == two
    with zipfile.ZipFile(io.BytesIO(one)) as archive:
        assert archive.namelist() == names
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert (
            archive.read("platform_ops/backup/s3.py")
            == PACKAGE["platform_ops/backup/s3.py"].encode()
        )


def test_plugins_zip_changes_when_a_file_content_changes(tmp_path: Path) -> None:
    root = build_copy(tmp_path / "pkg", sorted(PACKAGE), 1_600_000_000, 0o644)
    before = build_plugins_zip(root, ["platform_ops"])

    (root / "platform_ops" / "alerts.py").write_text("def alert() -> int: ...\n")

    assert build_plugins_zip(root, ["platform_ops"]) != before


def test_plugins_zip_raises_when_a_package_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        build_plugins_zip(tmp_path, ["platform_ops"])


# MWAA requirements.txt


def test_mwaa_requirements_start_with_the_pinned_constraints_and_keep_the_bundle_lines() -> None:
    pinned = versions()
    text = (ROOT / "dags" / "requirements.txt").read_text()

    result = mwaa_requirements(text, pinned)

    lines = result.splitlines()
    assert lines[0] == f'--constraint "{pinned.constraints_url}"'
    assert f"constraints-{pinned.airflow}/constraints-{pinned.python}.txt" in lines[0]
    assert "apache-airflow-providers-amazon" in lines
    assert result.endswith("\n")
    assert not result.endswith("\n\n")


def test_mwaa_requirements_drop_the_bundle_own_constraint_lines() -> None:
    pinned = Versions(airflow="3.3.1", python="3.12", postgres_client_major=17)
    text = '--constraint "https://example.invalid/c.txt"\n-c other.txt\nrequests==2.32.0\n'

    result = mwaa_requirements(text, pinned)

    assert result == f'--constraint "{pinned.constraints_url}"\nrequests==2.32.0\n'
