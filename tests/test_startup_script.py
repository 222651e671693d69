"""MWAA's startup script (`images/mwaa/startup.sh`), run the way MWAA runs it.

MWAA's wrapper sources the script with bash, with `exit` aliased to a handler that saves the
environment and ends the wrapper, and saves the environment itself once the source returns. A
`set -e` failure inside the script kills the wrapper before that save and MWAA marks the
container unhealthy; the wrapper is stopped after 5 minutes (the header of startup.sh cites
the sources). `WRAPPER` stands in for it and records, in its output directory, whether the
source returned, any call of the redefined `exit`, the shell options and working directory
before and after, the variables and functions left behind, and the saved environment.

`sudo`, `dnf` and `python3` are fakes on a PATH of their own (with only the few real tools
needed), so the script's own logic runs for real around them: `dnf` records its arguments and
"installs" a `pg_dump` that prints a chosen version, or none, or a broken one; `python3 -m venv`
creates a virtualenv whose `pip` records its arguments and environment and "installs" dbt
(whose `python` then reports the chosen versions), or fails.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_platform.versions import versions
from tests.conftest import ROOT
from tests.test_dbt_versions import dbt_pins

STARTUP = ROOT / "images" / "mwaa" / "startup.sh"
BASH = shutil.which("bash") or "/bin/bash"
SH = shutil.which("sh") or "/bin/sh"
MAJOR = versions().postgres_client_major
PACKAGE = f"postgresql{MAJOR}"
DNF_ARGS = ["install", "-y", "--quiet", PACKAGE]
DNF_SECONDS = "90"
DBT_PINS = dbt_pins(ROOT / "dbt" / "requirements.txt")
REQUIREMENTS = [f"{name}=={version}" for name, version in DBT_PINS.items()]
INSTALLED = " ".join(REQUIREMENTS)
PIP_ARGS = ["install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS]

# MWAA's wrapper, reduced to what matters here: `exit` aliased to a handler that saves the
# environment and ends the wrapper (this one also records the call); the source; the save
# after it. Portable to sh (dash), where aliases need no option. `{caller_options}` lets a test
# make the caller stricter than MWAA's.
WRAPPER = """\
out=$1
script=$2
handle_exit() {
    echo "exit $*" >> "$out/exit_calls"
    env > "$out/saved_env"
    unalias exit
    exit
}
if [ -n "${BASH_VERSION:-}" ]; then shopt -s expand_aliases; fi
alias exit=handle_exit
{caller_options}
echo "$-" > "$out/options_before"
. "$script"
echo "$-" > "$out/options_after"
pwd > "$out/pwd_after"
set > "$out/variables_after"
echo returned > "$out/source_returned"
env > "$out/saved_env"
unalias exit
exit 0
"""

PG_DUMP_BROKEN = "broken"
"""`pg_dump` value for a binary that cannot run (a missing shared library)."""


@dataclass(frozen=True)
class Run:
    """What one run of the wrapper left behind."""

    returncode: int
    stdout: str
    stderr: str
    out: Path
    cwd: Path
    bin_dir: Path
    airflow_home: Path

    @property
    def dbt_venv(self) -> Path:
        return self.airflow_home / "dbt_venv"

    @property
    def dbt_ready(self) -> str:
        return (
            f"startup: {INSTALLED} ready for dbt tasks "
            f"(PLATFORM_DBT_EXECUTABLE={self.dbt_venv}/bin/dbt)"
        )

    def saved(self, name: str) -> str | None:
        """`name`'s value in the environment the wrapper saved for Airflow."""
        for line in (self.saved_env or "").splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return value
        return None

    def _read(self, name: str) -> str | None:
        path = self.out / name
        return path.read_text() if path.exists() else None

    @property
    def source_returned(self) -> bool:
        return self._read("source_returned") is not None

    @property
    def exit_calls(self) -> str:
        return self._read("exit_calls") or ""

    @property
    def saved_env(self) -> str | None:
        return self._read("saved_env")

    @property
    def leftovers(self) -> list[str]:
        """Our variables and functions still defined in the caller after the source."""
        text = self._read("variables_after") or ""
        return re.findall(r"^(_startup_\w*|POSTGRES_CLIENT_MAJOR)[=\s(]", text, re.MULTILINE)

    def calls(self, tool: str) -> list[list[str]]:
        log = self.bin_dir / f"{tool}.log"
        return [line.split() for line in log.read_text().splitlines()] if log.exists() else []

    def log_lines(self, stream: str) -> list[str]:
        text = self.stdout if stream == "stdout" else self.stderr
        return [line for line in text.splitlines() if line.startswith("startup: ")]


def _write_tool(path: Path, body: str) -> None:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _pg_dump_body(pg_dump: str) -> str:
    if pg_dump == PG_DUMP_BROKEN:
        return (
            "#!/bin/sh\necho 'pg_dump: error while loading shared libraries: libpq.so.5' >&2\n"
            "exit 127\n"
        )
    return f'#!/bin/sh\necho "pg_dump (PostgreSQL) {pg_dump}"\n'


def _fake_venv_tools(templates: Path, pip_exit: int, installed: str) -> None:
    """What the fake `python3 -m venv` copies into a virtualenv's bin: a `pip` that records its
    arguments (and PIP_USER) in bin/pip.log, 'installs' `dbt` unless it fails, and exits with
    `pip_exit`; a `python` that prints `installed` (the script asks it for the versions)."""
    templates.mkdir()
    install = "" if pip_exit else 'printf "#!/bin/sh\\n" > "$here/dbt"\nchmod +x "$here/dbt"\n'
    _write_tool(
        templates / "pip",
        '#!/bin/sh\nhere=${0%/pip}\nprintf "PIP_USER=%s %s\\n" "${PIP_USER-unset}" "$*" '
        f'>> "$here/pip.log"\n{install}exit {pip_exit}\n',
    )
    _write_tool(templates / "python", f"#!/bin/sh\necho '{installed}'\n")


def _fake_tools(
    bin_dir: Path,
    pg_dump: str | None,
    dnf_exit: int,
    venv_exit: int = 0,
    pip_exit: int = 0,
    installed: str = INSTALLED,
) -> None:
    """`sudo` that records its arguments and runs them (after `-n`); `dnf` that records its
    arguments, 'installs' `pg_dump` (unless None) and exits with `dnf_exit`; `python3` that
    records its arguments and, for `-m venv DIR`, creates DIR/bin with the fake `pip` and
    `python` (unless `venv_exit` is not 0)."""
    bin_dir.mkdir()
    templates = bin_dir.parent / "venv-templates"
    _fake_venv_tools(templates, pip_exit, installed)
    venv = (
        "" if venv_exit else f'mkdir -p "$3/bin"\ncp {templates}/pip {templates}/python "$3/bin/"\n'
    )
    _write_tool(
        bin_dir / "python3",
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {bin_dir}/python3.log\n{venv}exit {venv_exit}\n',
    )
    record = 'printf "%s\\n" "$*" >> {log}\n'
    sudo_log, dnf_log = bin_dir / "sudo.log", bin_dir / "dnf.log"
    _write_tool(
        bin_dir / "sudo",
        f'#!/bin/sh\n{record.format(log=sudo_log)}[ "$1" = -n ] && shift\nexec "$@"\n',
    )
    install = ""
    if pg_dump is not None:
        (bin_dir / "pg_dump.new").write_text(_pg_dump_body(pg_dump))
        install = f"mv {bin_dir}/pg_dump.new {bin_dir}/pg_dump\nchmod +x {bin_dir}/pg_dump\n"
    _write_tool(
        bin_dir / "dnf",
        f"#!/bin/sh\n{record.format(log=dnf_log)}{install}exit {dnf_exit}\n",
    )


def _real_tools(tools_dir: Path) -> None:
    """The only real programs on PATH: what the wrapper, the fakes and the script run.
    No real pg_dump (this machine may have one) and no real sudo or dnf."""
    tools_dir.mkdir()
    for name in ("env", "timeout", "chmod", "mv", "mkdir", "cp"):
        found = shutil.which(name)
        assert found, f"{name} is needed to run the wrapper"
        (tools_dir / name).symlink_to(found)


def run_startup(
    tmp_path: Path,
    component: str | None,
    *,
    pg_dump: str | None = f"{MAJOR}.6",
    dnf_exit: int = 0,
    venv_exit: int = 0,
    pip_exit: int = 0,
    installed: str = INSTALLED,
    shell: str = BASH,
    caller_options: str = "",
    script: Path = STARTUP,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """Source `script` in the stand-in wrapper under `shell`, as MWAA would on `component`."""
    bin_dir, tools_dir, out, cwd = (tmp_path / n for n in ("bin", "tools", "out", "cwd"))
    _fake_tools(bin_dir, pg_dump, dnf_exit, venv_exit, pip_exit, installed)
    _real_tools(tools_dir)
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    out.mkdir()
    cwd.mkdir()
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text(WRAPPER.replace("{caller_options}", caller_options))
    env = {
        "PATH": f"{bin_dir}:{tools_dir}",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(airflow_home),
        **(extra_env or {}),
    }
    if component is not None:
        env["MWAA_AIRFLOW_COMPONENT"] = component
    result = subprocess.run(
        [shell, str(wrapper), str(out), str(script)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr, out, cwd, bin_dir, airflow_home)


def assert_returned_to_the_wrapper(run: Run) -> None:
    """MWAA's wrapper would save the environment and start Airflow: the source returned,
    `exit` was never called, and the caller's options, directory and names are as before."""
    assert run.exit_calls == "", f"the script called the wrapper's exit: {run.exit_calls!r}"
    assert run.source_returned, f"the source never returned (wrapper killed):\n{run.stderr}"
    assert run.saved_env is not None, "the wrapper did not save the environment"
    assert run.returncode == 0, run.stderr
    options_before = (run.out / "options_before").read_text()
    assert (run.out / "options_after").read_text() == options_before, "shell options changed"
    assert (run.out / "pwd_after").read_text().strip() == str(run.cwd), "the script changed cwd"
    assert run.leftovers == [], f"left in the caller: {run.leftovers}"


def assert_tried_to_install(run: Run) -> None:
    assert run.calls("dnf") == [DNF_ARGS]
    assert run.calls("sudo") == [["-n", "timeout", DNF_SECONDS, "dnf", *DNF_ARGS]]


def assert_tried_to_install_dbt(run: Run) -> None:
    venv = run.dbt_venv
    assert run.calls("python3") == [["-m", "venv", str(venv)]]
    pip_log = venv / "bin" / "pip.log"
    assert pip_log.exists(), "pip never ran"
    assert [line.split() for line in pip_log.read_text().splitlines()] == [
        ["PIP_USER=false", *PIP_ARGS]
    ]
    # Whatever happened, Airflow gets the path the dbt tasks run.
    assert run.saved("PLATFORM_DBT_EXECUTABLE") == f"{venv}/bin/dbt"


# The scenarios where something fails; each must only log (one line, saying what will fail).
BACKUPS_FAIL = "metadata backups (the metadata_backup DAG) will fail"
DBT_FAILS = "dbt tasks (the elt_dbt DAG) will fail"
FAILURES = {
    "dnf_fails": ({"dnf_exit": 1}, BACKUPS_FAIL),
    "dnf_is_stopped_by_the_timeout": ({"dnf_exit": 124}, BACKUPS_FAIL),
    "pg_dump_is_the_wrong_major": ({"pg_dump": "15.4"}, BACKUPS_FAIL),
    "pg_dump_is_missing_after_the_install": ({"pg_dump": None}, BACKUPS_FAIL),
    "pg_dump_cannot_run": ({"pg_dump": PG_DUMP_BROKEN}, BACKUPS_FAIL),
    "venv_fails": ({"venv_exit": 1}, DBT_FAILS),
    "pip_fails": ({"pip_exit": 1}, DBT_FAILS),
    "pip_is_stopped_by_the_timeout": ({"pip_exit": 124}, DBT_FAILS),
    "pip_installs_other_versions": (
        {"installed": "dbt-core==0.0.1 dbt-postgres==0.0.1"},
        DBT_FAILS,
    ),
}


@pytest.mark.parametrize("component", ["worker", "scheduler"])
def test_startup_installs_the_pinned_client_and_returns_to_the_wrapper_when_the_component_runs_tasks(  # noqa: E501
    tmp_path: Path, component: str
) -> None:
    run = run_startup(tmp_path, component)

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)
    assert_tried_to_install_dbt(run)
    assert run.log_lines("stdout") == [
        f"startup: pg_dump (PostgreSQL) {MAJOR}.6 ready for metadata backups "
        f"({run.bin_dir}/pg_dump)",
        run.dbt_ready,
    ]
    assert run.log_lines("stderr") == []


def test_startup_skips_the_install_and_returns_to_the_wrapper_when_the_component_is_the_web_server(
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "webserver")

    assert_returned_to_the_wrapper(run)
    assert run.calls("dnf") == []
    assert run.calls("sudo") == []
    assert run.calls("python3") == []
    assert run.saved("PLATFORM_DBT_EXECUTABLE") is None
    assert run.log_lines("stdout") == [
        f"startup: web server: not installing {PACKAGE} or dbt (the web server runs no tasks)"
    ]


def test_startup_logs_what_fails_and_what_to_check_and_returns_to_the_wrapper_when_dnf_fails(
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker", dnf_exit=1)

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)
    [line] = run.log_lines("stderr")
    assert f"could not install {PACKAGE} with sudo dnf (exit code 1" in line
    assert "metadata backups (the metadata_backup DAG) will fail until it is fixed" in line
    assert "Airflow starts normally" in line
    assert "network access to the Amazon Linux repositories" in line
    assert "NAT gateway" in line
    assert run.log_lines("stdout") == [run.dbt_ready]


def test_startup_logs_the_time_limit_and_returns_to_the_wrapper_when_dnf_is_stopped_by_the_timeout(
    tmp_path: Path,
) -> None:
    # `timeout` reports 124 when it had to stop dnf; the fake returns that directly.
    run = run_startup(tmp_path, "worker", dnf_exit=124)

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)
    [line] = run.log_lines("stderr")
    assert f"dnf did not install {PACKAGE} within {DNF_SECONDS} s and was stopped" in line
    assert "metadata backups (the metadata_backup DAG) will fail" in line
    assert "network access to the Amazon Linux repositories" in line


def test_startup_logs_the_version_found_and_the_fix_and_returns_to_the_wrapper_when_pg_dump_is_the_wrong_major(  # noqa: E501
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker", pg_dump="15.4")

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)
    [line] = run.log_lines("stderr")
    assert f"pg_dump on PATH is {run.bin_dir}/pg_dump" in line
    assert f"reports pg_dump (PostgreSQL) 15.4, not {MAJOR}.x" in line
    assert "metadata backups (the metadata_backup DAG) will fail" in line
    assert f"rpm -qf {run.bin_dir}/pg_dump" in line
    assert run.log_lines("stdout") == [run.dbt_ready]


def test_startup_logs_path_and_where_to_look_and_returns_to_the_wrapper_when_pg_dump_is_missing_after_the_install(  # noqa: E501
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker", pg_dump=None)

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)
    [line] = run.log_lines("stderr")
    assert f"dnf installed {PACKAGE} but pg_dump is not on PATH ({run.bin_dir}:" in line
    assert "metadata backups (the metadata_backup DAG) will fail" in line
    assert f"rpm -ql {PACKAGE}" in line
    assert "AIRFLOW_PLATFORM_PG_BIN_DIR" in line


def test_startup_logs_the_error_and_returns_to_the_wrapper_when_pg_dump_cannot_run(
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker", pg_dump=PG_DUMP_BROKEN)

    assert_returned_to_the_wrapper(run)
    [line] = run.log_lines("stderr")
    assert "--version' failed: pg_dump: error while loading shared libraries" in line
    assert f"not {MAJOR}.x" in line


@pytest.mark.parametrize("shell", [BASH, SH], ids=["bash", "sh"])
@pytest.mark.parametrize("caller_options", ["", "set -eu"], ids=["mwaa_caller", "errexit_caller"])
@pytest.mark.parametrize("scenario", FAILURES)
def test_startup_returns_to_the_wrapper_when_anything_fails_whatever_the_callers_options(
    tmp_path: Path, scenario: str, caller_options: str, shell: str
) -> None:
    # MWAA's caller has errexit off. With it on ("errexit_caller"), any unguarded failing
    # command or unset variable in the script would kill the wrapper here: every failure in
    # these scenarios is one that would have killed a `set -e` shell (see the control test
    # below), and the script must handle each one itself, under sh as under bash.
    options, consequence = FAILURES[scenario]
    run = run_startup(tmp_path, "worker", shell=shell, caller_options=caller_options, **options)

    assert_returned_to_the_wrapper(run)
    assert len(run.log_lines("stderr")) == 1, run.stderr
    assert consequence in run.stderr
    assert "Airflow starts normally" in run.stderr


@pytest.mark.parametrize("scenario", ["dnf_fails", "pg_dump_is_missing_after_the_install"])
def test_the_stand_in_wrapper_is_killed_before_saving_the_environment_when_a_naive_errexit_script_meets_the_failure(  # noqa: E501
    tmp_path: Path, scenario: str
) -> None:
    # Control: the failures above are real (they kill a `set -e` script) and the stand-in
    # wrapper shows the consequence MWAA suffers (no saved environment).
    naive = tmp_path / "naive.sh"
    naive.write_text(f"set -e\nsudo -n dnf install -y --quiet {PACKAGE}\npg_dump --version\n")

    run = run_startup(tmp_path, "worker", script=naive, **FAILURES[scenario][0])

    assert not run.source_returned
    assert run.saved_env is None
    assert run.returncode != 0


@pytest.mark.parametrize(
    ("mutation", "observed"),
    [
        ("set -e", "shell options changed"),
        ("set -u", "shell options changed"),
        ("exit 1", "called the wrapper's exit"),
        ("cd /", "changed cwd"),
    ],
)
def test_the_stand_in_wrapper_catches_the_script_when_it_changes_the_caller(
    tmp_path: Path, mutation: str, observed: str
) -> None:
    # Control: the same script with one forbidden line added is caught by the assertions.
    mutated = tmp_path / "mutated.sh"
    mutated.write_text(STARTUP.read_text() + f"\n{mutation}\n")

    run = run_startup(tmp_path, "worker", script=mutated)

    with pytest.raises(AssertionError, match=observed):
        assert_returned_to_the_wrapper(run)


def test_startup_restores_the_callers_postgres_client_major_when_the_caller_had_one(
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker", extra_env={"POSTGRES_CLIENT_MAJOR": "99"})

    assert run.saved_env is not None
    assert "POSTGRES_CLIENT_MAJOR=99" in run.saved_env.splitlines()
    assert_tried_to_install(run)  # the script's own pin, not the caller's


def test_startup_installs_the_client_when_no_component_is_set_even_for_a_nounset_caller(
    tmp_path: Path,
) -> None:
    # Not MWAA (a local runner, a hand-run test): only the web server skips the install, and
    # the unset MWAA_AIRFLOW_COMPONENT must not stop a caller that has nounset on.
    run = run_startup(tmp_path, None, caller_options="set -eu")

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install(run)


def test_the_startup_script_has_no_exit_errexit_nounset_or_cd_when_read_line_by_line() -> None:
    # Beyond the scenarios above: no branch of the script may use them.
    code = [line for line in STARTUP.read_text().splitlines() if not line.lstrip().startswith("#")]
    forbidden = re.compile(
        r"(^|[;&|]\s*)(exit|cd)\b|\bset\s+-\w*[eu]|\bset\s+-o\s+(errexit|nounset)"
    )
    assert [line for line in code if forbidden.search(line)] == []


def test_the_startup_script_is_shellcheck_clean_as_posix_sh() -> None:
    shellcheck = ROOT / ".venv" / "bin" / "shellcheck"
    if not shellcheck.exists():
        pytest.skip("shellcheck is not installed in .venv")
    assert STARTUP.read_text().startswith("# shellcheck shell=sh\n")
    result = subprocess.run(
        [str(shellcheck), str(STARTUP)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_startup_installs_the_pinned_dbt_in_its_own_venv_with_pip_user_off_when_the_component_runs_tasks(  # noqa: E501
    tmp_path: Path,
) -> None:
    run = run_startup(tmp_path, "worker")

    assert_returned_to_the_wrapper(run)
    assert_tried_to_install_dbt(run)
    assert (run.dbt_venv / "bin" / "dbt").exists()


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"venv_exit": 1}, "could not create the dbt virtualenv"),
        ({"pip_exit": 1}, f"could not install {INSTALLED} into"),
        ({"pip_exit": 124}, "within 150 s and was stopped"),
        ({"installed": "dbt-core==0.0.1 dbt-postgres==0.0.1"}, "holds dbt-core==0.0.1"),
    ],
    ids=["venv_fails", "pip_fails", "pip_timeout", "other_versions"],
)
def test_startup_logs_why_dbt_is_missing_and_still_exports_its_path_when_the_dbt_install_fails(
    tmp_path: Path, options: dict[str, object], complaint: str
) -> None:
    run = run_startup(tmp_path, "worker", **options)  # type: ignore[arg-type]

    assert_returned_to_the_wrapper(run)
    [line] = run.log_lines("stderr")
    assert complaint in line
    assert "dbt tasks (the elt_dbt DAG) will fail until it is fixed" in line
    assert run.saved("PLATFORM_DBT_EXECUTABLE") == f"{run.dbt_venv}/bin/dbt"
    # The backups' client is unaffected.
    assert run.log_lines("stdout")[0].endswith(
        f"ready for metadata backups ({run.bin_dir}/pg_dump)"
    )


def test_startup_leaves_pip_user_as_the_caller_had_it(tmp_path: Path) -> None:
    # PIP_USER=false is for the virtualenv's pip only; Airflow's own pip keeps MWAA's setting.
    run = run_startup(tmp_path, "worker", extra_env={"PIP_USER": "true"})

    assert run.saved("PIP_USER") == "true"
    assert_tried_to_install_dbt(run)


def test_startup_time_limits_fit_inside_mwaa_five_minutes() -> None:
    text = STARTUP.read_text()
    limits = {
        name: int(value)
        for name, value in re.findall(r"^_startup_(\w+)_seconds=(\d+)$", text, re.MULTILINE)
    }
    assert set(limits) == {"dnf", "venv", "pip"}
    assert sum(limits.values()) <= 270, limits  # 30 s left for everything else
