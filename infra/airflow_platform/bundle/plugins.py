"""A deterministic `plugins.zip`: the same files give the same bytes, whatever their times,
their order on disk or the machine's umask, so its S3 object (and the environment update its
new version triggers) changes only when the content does."""

from __future__ import annotations

from pathlib import Path

from airflow_platform.packaging import deterministic_zip


def build_plugins_zip(root: Path, packages: list[str]) -> bytes:
    """A zip of the `packages` directories under `root`, entries named from `root`.

    On MWAA the archive is unpacked to /usr/local/airflow/plugins, which is on sys.path:
    `packages=["platform_ops"]` makes `import platform_ops` work on every component.
    """
    return deterministic_zip(root, packages)
