#!/bin/sh
# MWAA startup script: runs on every Airflow component (worker, scheduler, web server) of
# the environment before requirements.txt is installed. It installs the PostgreSQL client
# (pg_dump, pg_restore, psql) that the metadata_backup DAG streams to S3, on the components
# that run tasks. The major version must be at least the newest server major the stacks may
# run (versions.env POSTGRES_CLIENT_MAJOR; tests/test_versions.py keeps the two equal).
# Amazon Linux 2023, which MWAA's images run on, packages it as postgresql<major>.
set -eu

POSTGRES_CLIENT_MAJOR=17

case "${MWAA_AIRFLOW_COMPONENT:-}" in
webserver)
    # The web server runs no tasks: keep its start fast.
    exit 0
    ;;
esac

if ! sudo dnf install -y --quiet "postgresql${POSTGRES_CLIENT_MAJOR}"; then
    echo "startup: could not install postgresql${POSTGRES_CLIENT_MAJOR} with dnf;" \
        "metadata backups will fail until it is installed" >&2
    exit 1
fi

installed=$(pg_dump --version)
case "$installed" in
*" ${POSTGRES_CLIENT_MAJOR}."*) echo "startup: ${installed} ready for metadata backups" ;;
*)
    echo "startup: expected pg_dump ${POSTGRES_CLIENT_MAJOR}.x on PATH, found: ${installed}" >&2
    exit 1
    ;;
esac
