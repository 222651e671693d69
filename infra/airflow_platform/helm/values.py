"""The official Apache Airflow Helm chart's values for eks stacks, built from the platform's
Airflow settings and checked against the chart's schema (`schema.py`) before they leave here.

`chart_values(settings, tier, inputs)` is the whole document a `helm.v3.Release` of
`CHART_NAME` from `CHART_REPOSITORY` at `chart_version()` takes: the KubernetesExecutor, the
image by digest, the metadata database on RDS through PgBouncer, every Airflow component on
with resources and probes sized by tier, two schedulers and API servers with disruption
budgets in prod, fixed service-account names for EKS Pod Identity, and every secret by its
Kubernetes secret's name only: no secret value is ever in the values.

Key by key, the chart files each value is read from are cited beside it; "schema" is
chart/values.schema.json, "production guide" chart/docs/production-guide.rst.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from airflow_platform.airflow_settings import METADATA_SECRET_NAME, SIZING
from airflow_platform.config.model import Tier
from airflow_platform.helm.schema import validate_values
from airflow_platform.task_pool import DO_NOT_DISRUPT, TASK_NODE_LABEL, TASK_TOLERATION
from airflow_platform.versions import versions

CHART_REPOSITORY = "https://airflow.apache.org"
"""The official chart's Helm repository (`helm repo add apache-airflow <this>`)."""
CHART_NAME = "airflow"

# Service accounts the chart creates under these names (`<component>.serviceAccount.create`
# and `.name`, schema), so EKS Pod Identity associations can name them before the release
# exists. Namespaced objects: one namespace per release keeps them apart.
SCHEDULER_SERVICE_ACCOUNT = "airflow-scheduler"
API_SERVER_SERVICE_ACCOUNT = "airflow-api-server"
DAG_PROCESSOR_SERVICE_ACCOUNT = "airflow-dag-processor"
TRIGGERER_SERVICE_ACCOUNT = "airflow-triggerer"
WORKER_SERVICE_ACCOUNT = "airflow-worker"
"""The KubernetesExecutor's task pods (`workers.kubernetes.serviceAccount`)."""
SERVICE_ACCOUNTS: dict[str, str] = {
    "scheduler": SCHEDULER_SERVICE_ACCOUNT,
    "apiServer": API_SERVER_SERVICE_ACCOUNT,
    "dagProcessor": DAG_PROCESSOR_SERVICE_ACCOUNT,
    "triggerer": TRIGGERER_SERVICE_ACCOUNT,
    "workers": WORKER_SERVICE_ACCOUNT,
}
"""Chart component -> the service account its pods run as (the ones AWS roles bind to)."""

# Kubernetes secrets the release reads by name. Who creates them owns their values; the keys
# are the ones the chart's own secret templates write (templates/secrets/*.yaml), which its
# deployments read.
FERNET_KEY_SECRET_NAME = "airflow-fernet-key"  # noqa: S105 - key `fernet-key`
API_SECRET_KEY_SECRET_NAME = "airflow-api-secret-key"  # noqa: S105 - key `api-secret-key`
JWT_SECRET_NAME = "airflow-jwt-secret"  # noqa: S105 - key `jwt-secret`
PGBOUNCER_CONFIG_SECRET_NAME = "airflow-pgbouncer-config"  # noqa: S105 - pgbouncer.ini, users.txt
PGBOUNCER_STATS_SECRET_NAME = "airflow-pgbouncer-stats"  # noqa: S105 - key `connection`
ADMIN_USER_SECRET_NAME = "airflow-admin-user"  # noqa: S105 - key `password`
ADMIN_PASSWORD_KEY = "password"  # noqa: S105 - a key's name, not a password
ADMIN_USERNAME = "admin"

PGBOUNCER_PORT = 6543
"""`ports.pgbouncer`'s default (schema), which the platform leaves as it is."""

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ChartInputs:
    """What the values depend on beyond the settings and the tier."""

    image_repository: pulumi.Input[str]
    """The eks image's repository without tag or digest (`<account>.dkr.ecr.<region>.
    amazonaws.com/airflow`); may be an Output of the ECR repository."""
    image_tag: str
    """The tag the image was pushed with, for people reading the release (`3.3.1-<sha>`);
    the digest, not the tag, decides what runs."""
    image_digest: pulumi.Input[str]
    """`sha256:<64 hex>` of that image: every Airflow pod and task pod runs exactly this."""
    namespace: str
    """The Kubernetes namespace of the release: the PgBouncer service's DNS name has it
    (`pgbouncer_target`)."""
    release_name: str
    """The Helm release (`airflow_settings.environment_name(stack)`): the chart names its
    PgBouncer service and database alias after it."""
    airflow_version: str = field(default_factory=lambda: versions().airflow)
    """The Airflow the image runs; the chart's `airflowVersion` picks commands and probes."""
    metadata_secret_name: str = METADATA_SECRET_NAME
    """Key `connection`: the SQLAlchemy URL of the metadata database through PgBouncer
    (`pgbouncer_target`), e.g. `postgresql://<user>:<pass>@<host>:6543/<db>`."""
    fernet_key_secret_name: str = FERNET_KEY_SECRET_NAME
    """Key `fernet-key`: Airflow's Fernet key (encrypts connections and variables)."""
    api_secret_key_secret_name: str = API_SECRET_KEY_SECRET_NAME
    """Key `api-secret-key`: `[api] secret_key` (signs UI sessions and log-fetch tokens)."""
    jwt_secret_name: str = JWT_SECRET_NAME
    """Key `jwt-secret`: `[api_auth] jwt_secret`, which signs the tokens tasks use."""
    pgbouncer_config_secret_name: str = PGBOUNCER_CONFIG_SECRET_NAME
    """Keys `pgbouncer.ini` and `users.txt`: PgBouncer's own config, naming RDS's host, the
    database and its credentials (production guide, "Database credentials stored Kubernetes
    Secret")."""
    pgbouncer_stats_secret_name: str = PGBOUNCER_STATS_SECRET_NAME
    """Key `connection`: `postgresql://<user>:<pass>@127.0.0.1:6543/pgbouncer?sslmode=disable`
    for the metrics exporter beside PgBouncer."""
    admin_user_secret_name: str = ADMIN_USER_SECRET_NAME
    """Key `password`: the `admin` user's password, read only where the create-user job runs
    (dev and ephemeral tiers)."""

    def __post_init__(self) -> None:
        for name in ("namespace", "release_name"):
            value = getattr(self, name)
            if not _DNS_LABEL.fullmatch(value) or len(value) > 53:
                # 53: Helm's own limit on a release name; a namespace is a DNS label as well.
                raise ValueError(f"{name}: {value!r} is not a DNS label of at most 53 characters")
        if isinstance(self.image_digest, str) and not _DIGEST.fullmatch(self.image_digest):
            raise ValueError(f"image_digest: expected sha256:<64 hex>, got {self.image_digest!r}")


@dataclass(frozen=True)
class Size:
    """requests then limits, as Kubernetes quantities."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str

    @classmethod
    def of(cls, text: str) -> Size:
        """`"<cpu> <memory> <cpu limit> <memory limit>"`."""
        cpu, memory, cpu_limit, memory_limit = text.split()
        return cls(cpu, memory, cpu_limit, memory_limit)

    def resources(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu, "memory": self.memory},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def _by_tier(small: str, staging: str, prod: str) -> dict[Tier, Size]:
    """Sizes for dev and ephemeral (`small`), staging and prod."""
    return {
        Tier.EPHEMERAL: Size.of(small),
        Tier.DEV: Size.of(small),
        Tier.STAGING: Size.of(staging),
        Tier.PROD: Size.of(prod),
    }


# Starting points, not measurements: the chart sets no resources at all (`resources: {}` in
# values.yaml). Memory limits leave room over requests for parse spikes; prod gets the most
# where load follows the DAG count (scheduler, DAG processor) or the users (API server).
# Each entry: requests cpu, memory, then limits cpu, memory.
RESOURCES: dict[str, dict[Tier, Size]] = {
    # component: _by_tier(dev and ephemeral, staging, prod)
    "scheduler": _by_tier("250m 1Gi 1 2Gi", "500m 1Gi 1 2Gi", "1 2Gi 2 4Gi"),
    "apiServer": _by_tier("250m 1Gi 1 2Gi", "500m 1Gi 1 2Gi", "500m 1536Mi 2 3Gi"),
    "dagProcessor": _by_tier("250m 1Gi 1 2Gi", "500m 1Gi 1 2Gi", "1 2Gi 2 4Gi"),
    "triggerer": _by_tier("100m 512Mi 500m 1Gi", "250m 512Mi 1 1Gi", "250m 1Gi 1 2Gi"),
    "statsd": _by_tier("50m 64Mi 200m 256Mi", "50m 64Mi 200m 256Mi", "100m 128Mi 500m 512Mi"),
    "pgbouncer": _by_tier("50m 64Mi 250m 256Mi", "100m 64Mi 500m 256Mi", "100m 128Mi 1 512Mi"),
    "pgbouncerExporter": _by_tier(
        "25m 32Mi 100m 128Mi", "25m 32Mi 100m 128Mi", "25m 32Mi 100m 128Mi"
    ),
    "migrateDatabaseJob": _by_tier("250m 512Mi 1 1Gi", "250m 512Mi 1 1Gi", "500m 1Gi 1 2Gi"),
    "createUserJob": _by_tier(
        "100m 256Mi 500m 512Mi", "100m 256Mi 500m 512Mi", "100m 256Mi 500m 512Mi"
    ),
    "databaseCleanup": _by_tier("100m 256Mi 500m 1Gi", "250m 512Mi 1 1Gi", "250m 512Mi 1 2Gi"),
    # Each task pod of the KubernetesExecutor (its pod-template-file); a task needing more
    # asks for it in its own `executor_config` pod override.
    "workers": _by_tier("250m 512Mi 1 2Gi", "500m 1Gi 2 2Gi", "500m 1Gi 2 4Gi"),
}

# Probe timings, explicit so a chart upgrade that changes its defaults shows in the plan.
# The scheduler, DAG processor and triggerer probes run `airflow jobs check` (the chart's
# command for Airflow 3), which imports Airflow: 20 s timeouts, a check a minute. The chart
# has no readiness probe for them (schema: only livenessProbe, and startupProbe for the
# scheduler): they serve no traffic. The API server is probed over HTTP.
JOB_CHECK_LIVENESS = {
    "initialDelaySeconds": 10,
    "timeoutSeconds": 20,
    "failureThreshold": 5,
    "periodSeconds": 60,
}
JOB_CHECK_STARTUP = {
    "initialDelaySeconds": 0,
    "timeoutSeconds": 20,
    "failureThreshold": 6,
    "periodSeconds": 10,
}
HTTP_PROBE = {
    "initialDelaySeconds": 15,
    "timeoutSeconds": 5,
    "failureThreshold": 5,
    "periodSeconds": 10,
}
HTTP_STARTUP = {
    "initialDelaySeconds": 0,
    "timeoutSeconds": 20,
    "failureThreshold": 6,
    "periodSeconds": 10,
}
# `pgbouncer_exporter health` (pgbouncer-deployment.yaml); the chart's 1 s timeout is tight
# for an exec probe on a busy node.
EXPORTER_PROBE = {"initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5}

CHART_FIXED_PROBES: dict[str, str] = {
    "statsd": "liveness and readiness: HTTP GET /metrics on the scrape port "
    "(templates/statsd/statsd-deployment.yaml; no values key)",
    "pgbouncer": "liveness and readiness: TCP on the PgBouncer port "
    "(templates/pgbouncer/pgbouncer-deployment.yaml; no values key); the exporter "
    "sidecar's are set here",
}
"""Components whose probes the chart hard-codes: nothing in the values can set them."""
NO_PROBES: dict[str, str] = {
    "migrateDatabaseJob": "a Job runs to completion; Kubernetes probes are for serving pods",
    "createUserJob": "a Job runs to completion",
    "databaseCleanup": "a CronJob's pods run to completion",
    "workers": "task pods run one task to completion; the scheduler watches them instead",
}


def chart_version() -> str:
    """The pinned chart (`AIRFLOW_CHART_VERSION` in versions.env); refused when missing."""
    chart = versions().chart
    if not chart:
        raise ValueError("versions.env lacks AIRFLOW_CHART_VERSION (the Airflow Helm chart)")
    return chart


def pgbouncer_target(inputs: ChartInputs) -> tuple[str, int, str]:
    """(host, port, database) the metadata secret's connection must point at: the chart's
    PgBouncer service and its database alias (templates/secrets/metadata-connection-secret.yaml
    builds exactly these when it writes the secret itself: `<release>-pgbouncer.<namespace>`,
    `ports.pgbouncer`, `<release>-metadata`)."""
    return (
        f"{inputs.release_name}-pgbouncer.{inputs.namespace}",
        PGBOUNCER_PORT,
        f"{inputs.release_name}-metadata",
    )


def helm_config(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Helm chart's `config:` (section -> key -> value), sorted for stable previews."""
    return {section: dict(sorted(values.items())) for section, values in sorted(settings.items())}


def settings_values(settings: Mapping[str, Mapping[str, Any]], tier: Tier) -> dict[str, Any]:
    """The part of the values the settings alone decide: `config:`, the executor (the chart
    also derives pod templates from it), the metadata database as a secret on RDS (the
    chart's bundled PostgreSQL off: never SQLite, never a password in values), and the
    chart's own `airflow db clean` CronJob with the tier's retention."""
    return {
        "executor": settings["core"]["executor"],
        "config": helm_config(settings),
        "data": {"metadataSecretName": METADATA_SECRET_NAME},
        "postgresql": {"enabled": False},
        "databaseCleanup": {
            "enabled": True,
            "retentionDays": SIZING[tier].metadata_retention_days,
            # 04:15 UTC: after the metadata backup (03:30) has taken its copy.
            "schedule": "15 4 * * *",
            # Archive tables would grow the database the job shrinks; the nightly dump is the
            # archive (as on MWAA, docs/operations.md).
            "skipArchive": True,
        },
    }


def chart_values_output(
    settings: Mapping[str, Mapping[str, Any]], tier: Tier, inputs: ChartInputs
) -> pulumi.Output[dict[str, Any]]:
    """`chart_values` once every Output in the settings (bucket names) and the inputs (the
    image's repository and digest) is known: the whole document is then checked against the
    schema, the digest included, in the offline plan as at deploy time."""

    def build(known: list[Any]) -> dict[str, Any]:
        resolved, repository, digest = known
        return chart_values(
            resolved, tier, replace(inputs, image_repository=repository, image_digest=digest)
        )

    return pulumi.Output.all(
        pulumi.Output.from_input(settings), inputs.image_repository, inputs.image_digest
    ).apply(build)


def chart_values(
    settings: Mapping[str, Mapping[str, Any]], tier: Tier, inputs: ChartInputs
) -> dict[str, Any]:
    """The whole values document for the tier, validated against the chart's schema."""
    prod = tier is Tier.PROD
    # Two of each where a single pod is the whole service in prod; PDBs keep one of each up
    # through node drains (EKS Auto Mode replaces nodes on its own schedule).
    replicas = 2 if prod else 1
    budget = {"enabled": prod, "config": {"maxUnavailable": 1}}
    values = settings_values(settings, tier)
    worker_image_tag = f"{inputs.image_tag}@{inputs.image_digest}"
    values["config"] = helm_config(
        {
            **values["config"],
            # Task pods take their image from these two options, not from `images.airflow`
            # (the chart's values.yaml fills them from `images.airflow.repository` and `.tag`,
            # never the digest; the executor starts `<repository>:<tag>`, cncf.kubernetes
            # provider kube_config.py `kube_image`): `<tag>@<digest>` is a reference that
            # pulls by digest, so task pods run the image the rest run.
            "kubernetes_executor": {
                **values["config"].get("kubernetes_executor", {}),
                "worker_container_repository": inputs.image_repository,
                "worker_container_tag": worker_image_tag,
            },
        }
    )
    values["databaseCleanup"]["resources"] = _resources("databaseCleanup", tier)
    values["data"] = {"metadataSecretName": inputs.metadata_secret_name}
    values.update(
        {
            # The chart makes version-dependent choices (API server, probe commands) from
            # this, not from the image; its default is its own appVersion.
            "airflowVersion": inputs.airflow_version,
            "images": {
                # `digest` overrides `tag` for every Airflow container (`airflow_image`,
                # templates/_helpers.yaml); an immutable reference needs no Always pull.
                "airflow": {
                    "repository": inputs.image_repository,
                    "tag": inputs.image_tag,
                    "digest": inputs.image_digest,
                    "pullPolicy": "IfNotPresent",
                },
                # The pod-template-file's own image (schema: no digest key): pinned the same
                # way as the executor's options above.
                "pod_template": {
                    "repository": inputs.image_repository,
                    "tag": worker_image_tag,
                    "pullPolicy": "IfNotPresent",
                },
            },
            # Secrets by name only (schema: `fernetKeySecretName`, `apiSecretKeySecretName`,
            # `jwtSecretName`); without them the chart generates random ones on install, which
            # differ per release and rotate on reinstall (production guide, "API Secret Key",
            # "JWT Secret").
            "fernetKeySecretName": inputs.fernet_key_secret_name,
            "apiSecretKeySecretName": inputs.api_secret_key_secret_name,
            "jwtSecretName": inputs.jwt_secret_name,
            "scheduler": {
                "enabled": True,
                "replicas": replicas,
                "livenessProbe": JOB_CHECK_LIVENESS,
                "startupProbe": JOB_CHECK_STARTUP,
                "resources": _resources("scheduler", tier),
                "serviceAccount": _service_account("scheduler"),
                "podDisruptionBudget": budget,
            },
            # Airflow 3's API server (UI, REST API, the tasks' execution API), which replaces
            # the webserver (schema: "Airflow 3+ only").
            "apiServer": {
                "enabled": True,
                "replicas": replicas,
                "livenessProbe": HTTP_PROBE,
                "readinessProbe": HTTP_PROBE,
                "startupProbe": HTTP_STARTUP,
                "resources": _resources("apiServer", tier),
                "serviceAccount": _service_account("apiServer"),
                "podDisruptionBudget": budget,
            },
            # Airflow 3 parses DAGs only in the standalone DAG processor.
            "dagProcessor": {
                "enabled": True,
                "replicas": 1,
                "livenessProbe": JOB_CHECK_LIVENESS,
                "resources": _resources("dagProcessor", tier),
                "serviceAccount": _service_account("dagProcessor"),
                **_dag_bundles(settings),
            },
            "triggerer": {
                "enabled": True,
                "replicas": 1,
                "livenessProbe": JOB_CHECK_LIVENESS,
                "resources": _resources("triggerer", tier),
                "serviceAccount": _service_account("triggerer"),
                # Off: with persistence on (the default) the triggerer is a StatefulSet with
                # a 100Gi volume per replica for its log files; task and trigger logs go to
                # the log-archive bucket (`[logging] remote_logging`), so a pod's disk is
                # enough for what is in flight.
                "persistence": {"enabled": False},
            },
            # The chart's StatsD exporter; `[metrics] statsd_on` follows `statsd.enabled` in
            # the chart's own config (values.yaml `config.metrics`).
            "statsd": {"enabled": True, "resources": _resources("statsd", tier)},
            # With `data.metadataSecretName` the chart cannot write PgBouncer's config (it
            # would render it from `data.metadataConnection`, i.e. no host and a default
            # password: templates/secrets/pgbouncer-config-secret.yaml), so PgBouncer reads
            # its own secret, and its exporter another (production guide, "PgBouncer" /
            # "Database credentials stored Kubernetes Secret"). Pool sizes then live in that
            # pgbouncer.ini: `pgbouncer.metadataPoolSize` and `maxClientConn` only feed the
            # config the chart renders itself, so they are not set here.
            "pgbouncer": {
                "enabled": True,
                "replicas": replicas,
                "resources": _resources("pgbouncer", tier),
                "configSecretName": inputs.pgbouncer_config_secret_name,
                "metricsExporterSidecar": {
                    "resources": _resources("pgbouncerExporter", tier),
                    "statsSecretName": inputs.pgbouncer_stats_secret_name,
                    "livenessProbe": EXPORTER_PROBE,
                    "readinessProbe": EXPORTER_PROBE,
                },
                "podDisruptionBudget": budget,
            },
            # `airflow db migrate` on every install and upgrade (a Helm hook by default).
            "migrateDatabaseJob": {
                "enabled": True,
                "resources": _resources("migrateDatabaseJob", tier),
            },
            "createUserJob": _create_user_job(tier, inputs),
            "workers": {
                "kubernetes": {
                    "resources": _resources("workers", tier),
                    "serviceAccount": {"create": True, "name": WORKER_SERVICE_ACCOUNT},
                },
                # Task pods, and only they, run on the task node pool (task_pool.py): spot
                # where the tier allows, never disrupted while a task runs.
                "nodeSelector": dict(TASK_NODE_LABEL),
                "tolerations": [dict(TASK_TOLERATION)],
                "podAnnotations": dict(DO_NOT_DISRUPT),
            },
        }
    )
    validate_values(values)
    return values


def _dag_bundles(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The DAG bundles as the chart takes them. The chart writes
    `[dag_processor] dag_bundle_config_list` from `dagProcessor.dagBundleConfigList` (its
    default: a LocalDagBundle on the image's dags folder), so the same list goes there as in
    `config:`, or the chart's default could win over the S3 bundle."""
    bundles = settings.get("dag_processor", {}).get("dag_bundle_config_list")
    if bundles is None:
        return {}
    if not isinstance(bundles, str):
        raise ValueError(
            "dag_processor.dag_bundle_config_list must be known (resolve the settings' Outputs "
            "before building the values)"
        )
    return {"dagBundleConfigList": json.loads(bundles)}


def _resources(component: str, tier: Tier) -> dict[str, dict[str, str]]:
    return RESOURCES[component][tier].resources()


def _service_account(component: str) -> dict[str, Any]:
    # Created by the chart under a fixed name (schema: "If not set and create is true, a
    # name is generated using the release name"), so Pod Identity can bind it up front.
    return {"create": True, "name": SERVICE_ACCOUNTS[component]}


# Where a person signs in to look at DAGs they are trying out: dev, and ephemeral pr-<n>
# environments (reviewers open their UI, and they live for hours, with no one to create a
# user by hand). Staging and prod users are created by their admins (FAB auth manager);
# a job re-creating an admin there on every upgrade would be a standing back door.
CREATE_USER_TIERS = frozenset({Tier.DEV, Tier.EPHEMERAL})


def _create_user_job(tier: Tier, inputs: ChartInputs) -> dict[str, Any]:
    job: dict[str, Any] = {
        "enabled": tier in CREATE_USER_TIERS,
        "resources": _resources("createUserJob", tier),
    }
    if not job["enabled"]:
        return job
    # The chart's default args pass `createUserJob.defaultUser.password` (default "admin")
    # on the command line (schema, `createUserJob.args`); these take it from a secret
    # instead, so no password is in the values. `airflow users create` (the FAB auth
    # manager's CLI) leaves an existing user as it is.
    job["args"] = [
        "bash",
        "-c",
        f"exec airflow users create --role Admin --username {ADMIN_USERNAME}"
        " --email admin@example.invalid --firstname Airflow --lastname Admin"
        ' --password "${AIRFLOW_ADMIN_PASSWORD}"',
    ]
    job["env"] = [
        {
            "name": "AIRFLOW_ADMIN_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"name": inputs.admin_user_secret_name, "key": ADMIN_PASSWORD_KEY}
            },
        }
    ]
    return job
