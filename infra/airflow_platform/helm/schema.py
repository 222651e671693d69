"""A typed model of every key of the official Apache Airflow Helm chart that the platform sets,
written from the chart's own JSON schema, so a values document is checked offline.

Source: `chart/values.schema.json` of apache/airflow. The chart pinned is 1.22.0
(`AIRFLOW_CHART_VERSION`, tag `helm-chart/1.22.0`), but the schema file stored at that tag could
not be read here; the model is written from the nearest stored copy that carries 1.22.0's
defaults (`airflowVersion` 3.2.2): commit 5f1ee0aea931bd3a221eab567f6ad724c587b43a on main,
cross-checked against the 1.22.0 release notes (the `workers.kubernetes` service-account
fixes #66598, #66730), the 1.21.0 newsfragments that moved worker keys under
`workers.kubernetes` (`chart/newsfragments/64746.significant.rst`, `64860.significant.rst`)
and the production guide (`chart/docs/production-guide.rst`). Types, enums and patterns
are the schema's; every field cites the schema's description where it matters.

Deliberately stricter than the chart (each says why where it is declared):

- unknown keys fail at every level (`extra="forbid"`), also where the schema is open: the
  schema's root and its `serviceAccount`, `postgresql` and `workers.kubernetes` objects do not
  set `additionalProperties: false`, so Helm would silently ignore `schduler:`;
- every key the platform sets is required, so a value the program stops setting is noticed;
- JSON types are strict (no "2" for 2), as JSON schema validation in Helm is;
- resource quantities also follow Kubernetes' quantity grammar (the schema's
  `io.k8s.apimachinery.pkg.api.resource.Quantity` is only "string or number"), and
  `requests`/`limits` must name both cpu and memory.

`validate_values(values)` raises `ChartValuesError`, listing each bad key path with what the
schema allows there.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

SCHEMA_SOURCE = (
    "apache/airflow chart/values.schema.json @ 5f1ee0aea931bd3a221eab567f6ad724c587b43a "
    "(modelled for chart 1.22.0)"
)

# values.schema.json, `executor.pattern`.
EXECUTOR_PATTERN = (
    r"^(([a-zA-Z_][a-zA-Z0-9_]*.)*[A-Z][a-zA-Z0-9]+Executor)"
    r"(,(([a-zA-Z_][a-zA-Z0-9_]*.)*[A-Z][a-zA-Z0-9]+Executor))*$"
)
# Kubernetes' quantity grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go): a signed
# decimal, then a binary (Ki..Ei) or decimal (n, u, m, k, M..E) suffix or an exponent.
_QUANTITY = re.compile(
    r"^[+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# An OCI content digest as image references take it: `sha256:` and 64 lowercase hex digits.
# The schema types `images.airflow.digest` as a plain string; the chart prints it after `@`
# (`airflow_image` in templates/_helpers.yaml), where nothing else is a valid reference.
IMAGE_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"

PullPolicy = Literal["Always", "Never", "IfNotPresent"]  # `images.*.pullPolicy.enum`


def _quantity(value: str | int | float) -> str | int | float:
    if isinstance(value, str) and not _QUANTITY.fullmatch(value):
        raise ValueError("expected a Kubernetes quantity such as 500m, 1, 512Mi or 2Gi")
    return value


# `io.k8s.apimachinery.pkg.api.resource.Quantity`: oneOf string, number.
Quantity = Annotated[str | int | float, AfterValidator(_quantity)]
ConfigValue = bool | int | float | str  # `config.additionalProperties.additionalProperties.type`


class ChartModel(BaseModel):
    """camelCase keys as the chart spells them, unknown keys refused, JSON types strict."""

    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", strict=True, frozen=True, populate_by_name=False
    )


# --- shared shapes ----------------------------------------------------------------------


class ResourceList(ChartModel):
    cpu: Quantity
    memory: Quantity


class ResourceRequirements(ChartModel):
    """`io.k8s.api.core.v1.ResourceRequirements` (limits/requests: maps of Quantity)."""

    limits: ResourceList
    requests: ResourceList


class CommandProbe(ChartModel):
    """`scheduler.livenessProbe` / `startupProbe`, `triggerer.livenessProbe`,
    `dagProcessor.livenessProbe`: integer timings (the `command` key is left to the chart,
    which runs `airflow jobs check` for the component)."""

    initial_delay_seconds: int
    timeout_seconds: int
    failure_threshold: int
    period_seconds: int


class HttpProbe(CommandProbe):
    """`apiServer.livenessProbe` / `readinessProbe` / `startupProbe` (an HTTP GET the chart
    builds; `scheme` stays the chart's HTTP)."""


class ExporterProbe(ChartModel):
    """`pgbouncer.metricsExporterSidecar.livenessProbe` / `readinessProbe`."""

    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int


class ServiceAccount(ChartModel):
    """`<component>.serviceAccount`: `create` boolean, `name` string or null."""

    create: bool
    name: str | None


class WorkerServiceAccount(ChartModel):
    """`workers.kubernetes.serviceAccount`: here `create` is boolean or null."""

    create: bool | None
    name: str | None


class DisruptionBudgetConfig(ChartModel):
    # `maxUnavailable`: integer or string. `minAvailable` is never set: the chart's
    # values.yaml default already sets `maxUnavailable`, and a PDB may not carry both.
    max_unavailable: int | str


class PodDisruptionBudget(ChartModel):
    enabled: bool
    config: DisruptionBudgetConfig


class SecretKeySelector(ChartModel):
    """`io.k8s.api.core.v1.SecretKeySelector` (key required)."""

    name: str
    key: str


class EnvValueFrom(ChartModel):
    secret_key_ref: SecretKeySelector


class EnvFromSecret(ChartModel):
    """An `env` item taking its value from a secret (the schema's `valueFrom` branch): the
    only kind the platform sets, so no plain `value` can carry a secret."""

    name: str
    value_from: EnvValueFrom


# --- top-level sections ------------------------------------------------------------------


class AirflowImage(ChartModel):
    repository: str | None
    tag: str | None
    digest: Annotated[str, StringConstraints(pattern=IMAGE_DIGEST_PATTERN)] | None
    pull_policy: PullPolicy


class PodTemplateImage(ChartModel):
    """`images.pod_template`: no digest key in the schema (see values.py for the pin)."""

    repository: str | None
    tag: str | None
    pull_policy: PullPolicy


class Images(ChartModel):
    airflow: AirflowImage
    pod_template: PodTemplateImage = Field(alias="pod_template")


class Data(ChartModel):
    metadata_secret_name: str | None


class Postgresql(ChartModel):
    enabled: bool


class Scheduler(ChartModel):
    enabled: bool
    replicas: int
    liveness_probe: CommandProbe
    startup_probe: CommandProbe
    resources: ResourceRequirements
    service_account: ServiceAccount
    pod_disruption_budget: PodDisruptionBudget


class ApiServer(ChartModel):
    enabled: bool
    replicas: int | None
    liveness_probe: HttpProbe
    readiness_probe: HttpProbe
    startup_probe: HttpProbe
    resources: ResourceRequirements
    service_account: ServiceAccount
    pod_disruption_budget: PodDisruptionBudget


class DagBundle(ChartModel):
    """One entry of `dagProcessor.dagBundleConfigList`, which the chart renders into
    `[dag_processor] dag_bundle_config_list` (chart/tests: test_dag_bundle_config_list):
    Airflow's own bundle config (name, classpath, kwargs)."""

    name: str
    classpath: str
    kwargs: dict[str, Any]


class DagProcessor(ChartModel):
    enabled: bool
    replicas: int
    liveness_probe: CommandProbe
    resources: ResourceRequirements
    service_account: ServiceAccount
    dag_bundle_config_list: list[DagBundle] | None = None


class Persistence(ChartModel):
    enabled: bool


class Triggerer(ChartModel):
    enabled: bool
    replicas: int
    liveness_probe: CommandProbe
    resources: ResourceRequirements
    service_account: ServiceAccount
    persistence: Persistence


class Statsd(ChartModel):
    enabled: bool
    resources: ResourceRequirements


class MetricsExporterSidecar(ChartModel):
    resources: ResourceRequirements
    stats_secret_name: str | None
    liveness_probe: ExporterProbe
    readiness_probe: ExporterProbe


class Pgbouncer(ChartModel):
    enabled: bool
    replicas: int
    resources: ResourceRequirements
    config_secret_name: str | None
    metrics_exporter_sidecar: MetricsExporterSidecar
    pod_disruption_budget: PodDisruptionBudget


class MigrateDatabaseJob(ChartModel):
    enabled: bool
    resources: ResourceRequirements


class CreateUserJob(ChartModel):
    enabled: bool
    resources: ResourceRequirements
    # Set only where the job runs (values.py): `args` is an array or null, `env` an array.
    args: list[str] | None = None
    env: list[EnvFromSecret] = Field(default_factory=list)


class DatabaseCleanup(ChartModel):
    enabled: bool
    retention_days: Annotated[int, Field(ge=1)]  # `minimum: 1`
    schedule: str
    skip_archive: bool
    resources: ResourceRequirements


class KubernetesWorkers(ChartModel):
    """`workers.kubernetes`: the KubernetesExecutor's pod-template-file."""

    resources: ResourceRequirements
    service_account: WorkerServiceAccount


class Toleration(ChartModel):
    key: str
    operator: Literal["Equal", "Exists"]
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Workers(ChartModel):
    """The KubernetesExecutor's task pods. Their pod template
    (chart/files/pod-template-file.kubernetes-helm-yaml) takes `nodeSelector` from
    `workers.kubernetes.nodeSelector`, else `workers.nodeSelector`, tolerations from
    `workers.tolerations` and annotations from `workers.podAnnotations`: the `workers.*`
    forms are read by every chart version the platform has pinned."""

    kubernetes: KubernetesWorkers
    node_selector: dict[str, str]
    tolerations: list[Toleration]
    pod_annotations: dict[str, str]


class ChartValues(ChartModel):
    """The whole values document the platform hands the chart."""

    executor: Annotated[str, StringConstraints(pattern=EXECUTOR_PATTERN)]
    airflow_version: str
    images: Images
    data: Data
    postgresql: Postgresql
    fernet_key_secret_name: str | None
    api_secret_key_secret_name: str | None
    jwt_secret_name: str | None
    config: dict[str, dict[str, ConfigValue]]
    scheduler: Scheduler
    api_server: ApiServer
    dag_processor: DagProcessor
    triggerer: Triggerer
    statsd: Statsd
    pgbouncer: Pgbouncer
    migrate_database_job: MigrateDatabaseJob
    create_user_job: CreateUserJob
    database_cleanup: DatabaseCleanup
    workers: Workers


# --- validation --------------------------------------------------------------------------


class ChartValuesError(ValueError):
    """The values document does not fit the chart's schema: one line per bad key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "Helm values do not fit the Airflow chart's schema "
            f"({SCHEMA_SOURCE}):\n" + "\n".join(f"  - {p}" for p in problems)
        )


UNKNOWN_AT_PLAN_TIME = "<known after deploy>"
"""What a `pulumi.Output` stands for while validating: a string nobody knows yet."""


def _resolve_outputs(value: Any) -> Any:
    """The document with each `pulumi.Output` (a bucket name, say) as a placeholder string:
    an Output is allowed where the schema allows a string, and nowhere else."""
    if isinstance(value, pulumi.Output):
        return UNKNOWN_AT_PLAN_TIME
    if isinstance(value, Mapping):
        return {key: _resolve_outputs(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve_outputs(item) for item in value]
    return value


def validate_values(values: Mapping[str, Any]) -> None:
    """Check a values document against the model; raise `ChartValuesError` naming every bad
    key path (`scheduler.replicas`, `schduler`) and what the chart allows there."""
    try:
        ChartValues.model_validate(_resolve_outputs(values))
    except ValidationError as error:
        raise ChartValuesError(_problems(error)) from None


def _problems(error: ValidationError) -> list[str]:
    by_path: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        path, parent = _key_path(item["loc"])
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_aliases(parent)) if parent is not None else "none"
            message = f"not a key the platform sets here (known keys: {allowed})"
        elif item["type"] == "missing":
            message = "missing: the platform sets this key"
        else:
            message = f"{item['msg']} (got {_show(item.get('input'))})"
        by_path.setdefault(path, [])
        if message not in by_path[path]:
            by_path[path].append(message)
    return [f"{path}: {' or '.join(messages)}" for path, messages in by_path.items()]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _key_path(loc: tuple[int | str, ...]) -> tuple[str, type[BaseModel] | None]:
    """The chart key path of an error location, without pydantic's union-branch tags
    (`('replicas', 'int')` is the key `replicas`), and the model holding its last key."""
    parts: list[str] = []
    current: Any = ChartValues
    parent: type[BaseModel] | None = None
    for element in loc:
        model = _model_in(current)
        if model is not None:
            fields = {field.alias or name: field for name, field in model.model_fields.items()}
            if not isinstance(element, str) or element not in fields:
                if not parts or element not in _union_tags(current):
                    parent = model
                    parts.append(str(element))
                break
            parent = model
            parts.append(element)
            current = fields[element].annotation
            continue
        origin = typing.get_origin(current)
        if origin is dict or origin is Mapping:
            parts.append(str(element))
            current = typing.get_args(current)[1]
        elif origin is list:
            parts.append(f"[{element}]")
            current = typing.get_args(current)[0]
        else:
            break
    return ".".join(parts).replace(".[", "["), parent


def _union_tags(annotation: Any) -> set[str]:
    return {getattr(arg, "__name__", str(arg)) for arg in typing.get_args(annotation)}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, also through `X | None` and `Annotated[...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
