# shellcheck shell=sh
# MWAA's startup script, on the components that run tasks: installs the PostgreSQL client
# (pg_dump, pg_restore, psql) that the metadata_backup DAG streams to S3, and the pinned dbt in
# its own virtualenv (apart from Airflow's packages and constraints) for the dbt DAG, whose path
# it exports as PLATFORM_DBT_EXECUTABLE.
#
# How MWAA runs it (https://docs.aws.amazon.com/mwaa/latest/userguide/using-startup-script.html):
# on every component (worker, scheduler, web server) before requirements.txt is installed and
# Airflow starts, with MWAA_AIRFLOW_COMPONENT set to worker, scheduler or webserver (MWAA's
# images also run a "hybrid" worker-scheduler: only webserver skips the install). MWAA's
# wrapper *sources* this file with bash (so no #! line: it would be ignored), with `exit`
# aliased to the wrapper's own handler, and saves the environment for Airflow after the source
# returns; a `set -e` failure kills the wrapper before that save and the container is marked
# unhealthy, and the wrapper is stopped after 5 minutes (aws/amazon-mwaa-docker-images,
# images/airflow/*/python/mwaa/config/setup_environment.py). Hence:
# - no `exit`, no `set -e` / `set -u`, and nothing here can break startup: every failure is
#   logged on stderr ("startup: ...") with what it means and what to do, and Airflow starts
#   anyway; the backup task then fails with a message naming the missing or too-old pg_dump,
#   a dbt task with one naming the missing PLATFORM_DBT_EXECUTABLE;
# - dnf gets at most _startup_dnf_seconds, the virtualenv _startup_venv_seconds and pip
#   _startup_pip_seconds: 270 s together, inside MWAA's 5 minutes;
# - the caller is left as it was: our names start with _startup_ and are unset at the end, a
#   caller's POSTGRES_CLIENT_MAJOR is restored, no cd, no shell options touched;
# - POSIX sh (shellcheck checks it as sh), so it behaves the same sourced by sh or bash.
#
# The major version must be at least the newest server major the stacks may run (versions.env
# POSTGRES_CLIENT_MAJOR; tests/test_versions.py keeps the two equal). Amazon Linux 2023, which
# MWAA's images run on, packages it as postgresql<major>. tests/test_startup_script.py runs
# this file under a stand-in for MWAA's wrapper.
#
# dbt: the pins are dbt/requirements.txt's (tests/test_dbt_versions.py keeps them equal), pip-
# installed from PyPI (or the index the environment's pip configuration names) into
# $AIRFLOW_HOME/dbt_venv with the image's python3 (the MWAA Python, 3.12). PIP_USER=false for
# that pip only: MWAA runs pip with PIP_USER=true, which a virtualenv's pip refuses (Cosmos's
# guide, astronomer-cosmos docs/getting_started/mwaa.rst, turns it off around the same install);
# the variable Airflow inherits is left as it was.

_startup_caller_major_set=${POSTGRES_CLIENT_MAJOR+set}
_startup_caller_major=${POSTGRES_CLIENT_MAJOR-}
POSTGRES_CLIENT_MAJOR=17
_startup_major=$POSTGRES_CLIENT_MAJOR
_startup_package="postgresql${_startup_major}"
_startup_dnf_seconds=90
_startup_dbt_requirements="dbt-core==1.11.16 dbt-postgres==1.11.0"
_startup_dbt_venv="${AIRFLOW_HOME:-/usr/local/airflow}/dbt_venv"
_startup_venv_seconds=30
_startup_pip_seconds=150
_startup_dbt_fail="dbt tasks (the elt_dbt DAG) will fail until it is fixed; Airflow starts normally"
_startup_pypi="check the environment's network access to PyPI (its private subnets' route to a NAT gateway, and outbound HTTPS in its security group and network ACLs) or a pip index in its pip configuration, then restart the workers (update the environment)"
_startup_backups_fail="metadata backups (the metadata_backup DAG) will fail until it is fixed; Airflow starts normally"
_startup_network="check the environment's network access to the Amazon Linux repositories (its private subnets' route to a NAT gateway, and outbound HTTPS in its security group and network ACLs), then restart the workers (update the environment)"

_startup_say() {
    printf 'startup: %s\n' "$1"
}

_startup_warn() {
    printf 'startup: %s\n' "$1" >&2
}

# timeout when the image has it (MWAA's does); without it, no limit rather than no install.
_startup_limited() {
    _startup_seconds=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout "$_startup_seconds" "$@"
    else
        "$@"
    fi
}

_startup_dnf_install() {
    if command -v timeout >/dev/null 2>&1; then
        sudo -n timeout "$_startup_dnf_seconds" dnf install -y --quiet "$_startup_package"
    else
        sudo -n dnf install -y --quiet "$_startup_package"
    fi
}

# Always returns 0: a caller with errexit on must not stop here either.
_startup_main() {
    if [ "${MWAA_AIRFLOW_COMPONENT:-}" = webserver ]; then
        _startup_say "web server: not installing ${_startup_package} or dbt (the web server runs no tasks)"
        return 0
    fi
    _startup_postgres_client
    _startup_dbt
    return 0
}

# Always returns 0.
_startup_postgres_client() {
    _startup_status=0
    _startup_dnf_install || _startup_status=$?
    if [ "$_startup_status" -eq 124 ]; then
        _startup_warn "dnf did not install ${_startup_package} within ${_startup_dnf_seconds} s and was stopped (MWAA stops startup scripts after 5 minutes), which usually means the repositories are unreachable: pg_dump is not installed and ${_startup_backups_fail}; ${_startup_network}"
        return 0
    fi
    if [ "$_startup_status" -ne 0 ]; then
        _startup_warn "could not install ${_startup_package} with sudo dnf (exit code ${_startup_status}; its messages are above): pg_dump is not installed and ${_startup_backups_fail}; ${_startup_network}"
        return 0
    fi

    if ! _startup_pg_dump=$(command -v pg_dump); then
        _startup_warn "dnf installed ${_startup_package} but pg_dump is not on PATH (${PATH}): ${_startup_backups_fail}; find its directory (rpm -ql ${_startup_package} | grep bin/pg_dump) and add it to PATH in this script, or export AIRFLOW_PLATFORM_PG_BIN_DIR=<that directory> here"
        return 0
    fi
    _startup_version=$("$_startup_pg_dump" --version 2>&1) ||
        _startup_version="nothing usable ('${_startup_pg_dump} --version' failed: ${_startup_version})"
    case "$_startup_version" in
    *"(PostgreSQL) ${_startup_major}."*)
        _startup_say "${_startup_version} ready for metadata backups (${_startup_pg_dump})"
        ;;
    *)
        _startup_warn "pg_dump on PATH is ${_startup_pg_dump}, which reports ${_startup_version}, not ${_startup_major}.x: backups of a PostgreSQL server newer than that client will fail, and ${_startup_backups_fail}; remove the other client (rpm -qf ${_startup_pg_dump}) or put ${_startup_package}'s directory first on PATH in this script"
        ;;
    esac
    return 0
}

# Always returns 0. Exports PLATFORM_DBT_EXECUTABLE whatever happens, so that a dbt task fails
# naming the path this script was to fill and these `startup:` lines explain why it is empty.
_startup_dbt() {
    PLATFORM_DBT_EXECUTABLE="${_startup_dbt_venv}/bin/dbt"
    export PLATFORM_DBT_EXECUTABLE

    _startup_status=0
    _startup_limited "$_startup_venv_seconds" python3 -m venv "$_startup_dbt_venv" ||
        _startup_status=$?
    if [ "$_startup_status" -ne 0 ]; then
        _startup_warn "could not create the dbt virtualenv ${_startup_dbt_venv} with python3 -m venv (exit code ${_startup_status}; its messages are above): dbt is not installed and ${_startup_dbt_fail}; check that python3 is on PATH (${PATH}) and ${_startup_dbt_venv} is writable"
        return 0
    fi

    _startup_status=0
    # shellcheck disable=SC2086 # word splitting wanted: one argument per requirement
    _startup_limited "$_startup_pip_seconds" env PIP_USER=false "${_startup_dbt_venv}/bin/pip" \
        install --quiet --disable-pip-version-check $_startup_dbt_requirements ||
        _startup_status=$?
    if [ "$_startup_status" -eq 124 ]; then
        _startup_warn "pip did not install ${_startup_dbt_requirements} within ${_startup_pip_seconds} s and was stopped (MWAA stops startup scripts after 5 minutes), which usually means PyPI is unreachable: ${_startup_dbt_fail}; ${_startup_pypi}"
        return 0
    fi
    if [ "$_startup_status" -ne 0 ]; then
        _startup_warn "could not install ${_startup_dbt_requirements} into ${_startup_dbt_venv} with pip (exit code ${_startup_status}; its messages are above): ${_startup_dbt_fail}; ${_startup_pypi}"
        return 0
    fi

    # No `dbt --version`: it asks PyPI for the latest release. The installed metadata is exact.
    _startup_installed=$("${_startup_dbt_venv}/bin/python" -c 'import importlib.metadata as m; print("dbt-core==%s dbt-postgres==%s" % (m.version("dbt-core"), m.version("dbt-postgres")))' 2>&1) ||
        _startup_installed="nothing usable (${_startup_installed})"
    if [ "$_startup_installed" != "$_startup_dbt_requirements" ] || [ ! -x "$PLATFORM_DBT_EXECUTABLE" ]; then
        _startup_warn "pip finished but ${_startup_dbt_venv} holds ${_startup_installed}, not ${_startup_dbt_requirements} with an executable ${PLATFORM_DBT_EXECUTABLE}: ${_startup_dbt_fail}; remove ${_startup_dbt_venv} in this script before the install and restart the workers"
        return 0
    fi
    _startup_say "${_startup_dbt_requirements} ready for dbt tasks (PLATFORM_DBT_EXECUTABLE=${PLATFORM_DBT_EXECUTABLE})"
    return 0
}

_startup_main

if [ -n "$_startup_caller_major_set" ]; then
    POSTGRES_CLIENT_MAJOR=$_startup_caller_major
else
    unset POSTGRES_CLIENT_MAJOR
fi
unset _startup_caller_major_set _startup_caller_major _startup_major _startup_package \
    _startup_dnf_seconds _startup_backups_fail _startup_network _startup_status \
    _startup_pg_dump _startup_version _startup_dbt_requirements _startup_dbt_venv \
    _startup_venv_seconds _startup_pip_seconds _startup_dbt_fail _startup_pypi \
    _startup_seconds _startup_installed
unset -f _startup_say _startup_warn _startup_limited _startup_dnf_install _startup_main \
    _startup_postgres_client _startup_dbt
