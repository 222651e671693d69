"""PgBouncer's config for the release, written by the stack into the secret the chart reads
(`pgbouncer.configSecretName`), so the database password is in a Kubernetes secret and never
in the chart's values.

The text follows the chart's own `pgbouncer_config` and `pgbouncer_users` templates
(apache/airflow chart/templates/_helpers.yaml), which the chart renders only when it writes
that secret itself, from a password in its values: one database alias,
`<release>-metadata`, pooled in transaction mode on `ports.pgbouncer`. Two differences, both
for RDS: TLS to the server is required (`rds.force_ssl=1` refuses anything else), and there
is no result-backend alias (the KubernetesExecutor has no Celery result backend).
"""

from __future__ import annotations

import pulumi

from airflow_platform.helm.values import PGBOUNCER_PORT

METADATA_POOL_SIZE = 20
MAX_CLIENT_CONNECTIONS = 200


def pgbouncer_config(
    *,
    database_host: pulumi.Input[str],
    database_port: int,
    database_name: str,
    alias: str,
    user: str,
    password: pulumi.Input[str],
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(`pgbouncer.ini`, `users.txt`) for the chart's PgBouncer; the second is secret."""
    ini = pulumi.Output.concat(
        "[databases]\n",
        f"{alias} = host=",
        database_host,
        f" dbname={database_name} port={database_port} pool_size={METADATA_POOL_SIZE}\n",
        "\n[pgbouncer]\n",
        "pool_mode = transaction\n",
        f"listen_port = {PGBOUNCER_PORT}\n",
        "listen_addr = *\n",
        "auth_type = scram-sha-256\n",
        "auth_file = /etc/pgbouncer/users.txt\n",
        f"stats_users = {user}\n",
        "ignore_startup_parameters = extra_float_digits\n",
        f"max_client_conn = {MAX_CLIENT_CONNECTIONS}\n",
        "verbose = 0\n",
        "log_disconnections = 0\n",
        "log_connections = 0\n",
        "\n",
        "server_tls_sslmode = require\n",
        "server_tls_ciphers = normal\n",
    )
    users = pulumi.Output.secret(pulumi.Output.concat(f'"{user}" "', password, '"\n'))
    return ini, users
