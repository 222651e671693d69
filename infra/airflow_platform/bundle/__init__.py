"""The DAG bundle as files: which files ship (`.airflowignore`), their content hashes, the
deterministic `plugins.zip` and MWAA's `requirements.txt`.

The Pulumi DagBundle component and `airflow-platform ship-dags` both read the bundle through
this package, so they agree on the file list, the keys and the hashes.
"""

from airflow_platform.bundle.files import (
    BundleFile,
    bundle_files,
    dag_key,
    sha256_file,
)
from airflow_platform.bundle.plugins import build_plugins_zip
from airflow_platform.bundle.requirements import mwaa_requirements

__all__ = [
    "BundleFile",
    "build_plugins_zip",
    "bundle_files",
    "dag_key",
    "mwaa_requirements",
    "sha256_file",
]
