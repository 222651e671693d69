"""DagBundle: the DAG folder as S3 objects in the DAG bucket, shipped by content, for both
platforms.

One object per shipped file at `dags/<path>` (the file list of `airflow_platform.bundle`,
so `.airflowignore` decides, exactly as `airflow-platform ship-dags` ships it), named after
its path and carrying its SHA-256 as `sourceHash` and as the `sha256` metadata: a changed
file updates only its object, a removed file's object is deleted, and the preview lists
exactly the DAG files that change. The runtime reads DAGs from the prefix (MWAA through its
dagS3Path, eks through Airflow's S3 DAG bundle, `airflow_settings.dag_bundle_config`), so
shipping DAGs never updates (restarts) it.

On mwaa stacks, `requirements.txt` (the pinned Airflow's constraints line first),
`plugins.zip` (the DAGs' logic package, byte-for-byte deterministic) and the startup script
are objects at the bucket root whose S3 version ids feed the environment: only a change of
one of them updates it. eks stacks ship the DAG objects only: their image carries the
requirements and `platform_ops` (images/eks/Dockerfile), and there is no startup script.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from airflow_platform.bundle import build_plugins_zip, bundle_files, mwaa_requirements
from airflow_platform.config.model import Platform
from airflow_platform.versions import Versions

REQUIREMENTS_KEY = "requirements.txt"
PLUGINS_KEY = "plugins.zip"
STARTUP_SCRIPT_KEY = "startup.sh"
# Packages under the DAG folder that are not DAG objects (.airflowignore keeps the DAG
# processor, hence the bundle, out of them): on MWAA they ship in plugins.zip (on its
# sys.path), on eks the image carries them.
PLUGIN_PACKAGES = ("platform_ops",)


@dataclass(frozen=True, kw_only=True)
class DagBundleArgs:
    """Inputs of DagBundle."""

    bucket: pulumi.Input[str]
    """The DAG bucket (versioned: MWAA requires it, and the object versions feed the
    environment)."""
    dags_dir: Path
    """The DAG folder (`dags/`)."""
    tags: Mapping[str, str]
    """The stack's tags."""
    platform: Platform = Platform.MWAA
    """Which runtime reads the bucket. MWAA: the DAG objects plus requirements.txt,
    plugins.zip and the startup script. EKS: the DAG objects only."""
    startup_script: Path | None = None
    """MWAA's startup script (`images/mwaa/startup.sh`); required on MWAA, unused on eks."""
    versions: Versions | None = None
    """The pinned Airflow, for requirements.txt's constraints line; required on MWAA,
    unused on eks."""
    bucket_ready: Sequence[pulumi.Resource] = ()
    """The bucket's versioning and public-access block (Storage.dag_bucket_ready). Objects
    written before versioning is on get no version id, and MWAA's CreateEnvironment requires
    one for requirements.txt, plugins.zip and the startup script."""


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or ("text/x-python" if path.endswith(".py") else "application/octet-stream")


def _mwaa_inputs(args: DagBundleArgs) -> tuple[Path, Versions] | None:
    """The startup script and versions on MWAA (ValueError without them), None on eks."""
    if args.platform is not Platform.MWAA:
        return None
    if args.startup_script is None or args.versions is None:
        raise ValueError("DagBundle on MWAA needs startup_script and versions")
    return args.startup_script, args.versions


class DagBundle(pulumi.ComponentResource):
    """The DAG folder in the DAG bucket; on MWAA also requirements, plugins and the startup
    script.

    Outputs: `dag_keys` (the shipped keys), and on MWAA for each of requirements, plugins and
    the startup script its key (`*_key`) and S3 version (`*_version`) for the environment
    (None on eks, which ships neither).
    """

    requirements_key: str | None
    plugins_key: str | None
    startup_script_key: str | None
    requirements_version: pulumi.Output[str] | None
    plugins_version: pulumi.Output[str] | None
    startup_script_version: pulumi.Output[str] | None
    dag_keys: list[str]
    objects: list[aws.s3.BucketObjectv2]
    """The DAG objects (what a runtime reading `dags/` waits for)."""

    def __init__(
        self, name: str, args: DagBundleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        mwaa_inputs = _mwaa_inputs(args)
        super().__init__("airflow-platform:aws:DagBundle", name, None, opts)
        # Every object waits for the bucket to be versioned and private.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.bucket_ready))
        self._child = child
        files = bundle_files(args.dags_dir)
        self.objects = []
        for file in files:
            stored = aws.s3.BucketObjectv2(
                f"{name}-{file.key}",
                bucket=args.bucket,
                key=file.key,
                source=pulumi.FileAsset(str(file.source)),
                source_hash=file.sha256,
                metadata={"sha256": file.sha256},
                content_type=_content_type(file.path),
                tags=dict(args.tags),
                opts=child,
            )
            self.objects.append(stored)
        self.dag_keys = [file.key for file in files]

        self.requirements_key = self.plugins_key = self.startup_script_key = None
        self.requirements_version = self.plugins_version = self.startup_script_version = None
        if mwaa_inputs is None:
            self.register_outputs({})
            return
        startup_script, versions = mwaa_inputs
        requirements = mwaa_requirements((args.dags_dir / "requirements.txt").read_text(), versions)
        plugins = build_plugins_zip(args.dags_dir, list(PLUGIN_PACKAGES))
        startup = startup_script.read_bytes()
        self.requirements_key = REQUIREMENTS_KEY
        self.plugins_key = PLUGINS_KEY
        self.startup_script_key = STARTUP_SCRIPT_KEY
        self.requirements_version = self._root_object(
            name, args, REQUIREMENTS_KEY, requirements.encode(), "text/plain"
        )
        self.plugins_version = self._root_object(
            name, args, PLUGINS_KEY, plugins, "application/zip"
        )
        self.startup_script_version = self._root_object(
            name, args, STARTUP_SCRIPT_KEY, startup, "text/x-sh"
        )
        self.register_outputs(
            {
                "requirements_version": self.requirements_version,
                "plugins_version": self.plugins_version,
                "startup_script_version": self.startup_script_version,
            }
        )

    def _root_object(
        self, name: str, args: DagBundleArgs, key: str, content: bytes, content_type: str
    ) -> pulumi.Output[str]:
        """A versioned object at the bucket root; its version id."""
        sha256 = hashlib.sha256(content).hexdigest()
        stored = aws.s3.BucketObjectv2(
            f"{name}-{key}",
            bucket=args.bucket,
            key=key,
            content_base64=base64.b64encode(content).decode(),
            metadata={"sha256": sha256},
            content_type=content_type,
            tags=dict(args.tags),
            opts=self._child,
        )
        return stored.version_id
