"""The `.dev/` folder of a local Airflow: its layout, the lock that lets one `dev up` or
`dev down` act at a time, and the state file that says what is running.

Layout (under the project folder, or `--home`):

    .dev/lock                  flock'ed while `dev up` starts or `dev down` stops things
    .dev/state.json            what runs now (`DevState`); absent when nothing does
    .dev/jwt_secret            [api_auth] jwt_secret, generated once, 0600
    .dev/postgres/             the embedded PostgreSQL cluster (data/, password, server.log)
    .dev/airflow/              AIRFLOW_HOME: the simple auth manager's passwords.json
    .dev/logs/<component>.log  each child process's output; logs/tasks/: task logs

A process is identified by its pid *and* its start time (field 22 of /proc/<pid>/stat, in
clock ticks since boot): a pid the kernel has since given to another program never matches,
so `dev down` never signals anything `dev up` did not start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEV_DIR = ".dev"
STATE_VERSION = 1


class DevEnvError(Exception):
    """Something stopped `dev up` or `dev down`; the message says what and where to look."""


class AlreadyRunningError(DevEnvError):
    """A local Airflow already runs from this `.dev/`."""


@dataclass(frozen=True)
class Layout:
    """The paths under one `.dev/` folder."""

    root: Path

    @classmethod
    def of(cls, home: Path) -> Layout:
        return cls(home.resolve() / DEV_DIR)

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def jwt_secret(self) -> Path:
        return self.root / "jwt_secret"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def password_file(self) -> Path:
        """The simple auth manager's passwords file ([core] simple_auth_manager_passwords_file)."""
        return self.airflow_home / "passwords.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def create(self) -> Layout:
        for folder in (self.root, self.airflow_home, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # passwords and the JWT secret live here
        return self


def secret_file(path: Path, nbytes: int = 32) -> str:
    """The secret kept in `path` (0600), generated on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()


# --- processes: pid plus start time -----------------------------------------------------------


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when no such process
    (or a zombie, which has finished)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def process_group(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Proc:
    """One process `dev up` started: its pid, start time and log file."""

    pid: int
    start_time: int
    log: str
    group: bool = True
    """It leads a process group of its own (its children are reached through it)."""

    @classmethod
    def of(cls, pid: int, log: Path, group: bool = True) -> Proc:
        started = start_time(pid)
        if started is None:
            raise DevEnvError(f"process {pid} exited at once: see {log}")
        return cls(pid, started, str(log), group)

    def alive(self) -> bool:
        """The very process recorded is still running (not merely its pid)."""
        return start_time(self.pid) == self.start_time

    def group_members(self) -> list[int]:
        """Processes left in its group that started no earlier than it did: its own
        children, never a stranger that reuses the pid as a group id."""
        if not self.group:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if process_group(pid) == self.pid and (start_time(pid) or -1) >= self.start_time:
                found.append(pid)
        return found


# --- the state file ----------------------------------------------------------------------------


@dataclass
class DevState:
    """`.dev/state.json`: what one `dev up` started and how to reach it."""

    home: str
    dags_folder: str
    api_url: str
    username: str
    password_file: str
    """The simple auth manager's generated passwords file: `{"admin": "<password>"}`."""
    ports: dict[str, int]
    """api, postgres, moto, slack: each on 127.0.0.1."""
    moto_endpoint: str
    slack_url: str
    pg_dsn: str
    """The metadata database, without its password (`pg_password_file` holds it)."""
    pg_password_file: str
    processes: dict[str, Proc] = field(default_factory=dict)
    """By component: postgres, moto, slack, api-server, scheduler, dag-processor, triggerer."""
    supervisor: Proc | None = None
    """The foreground `dev up` process, when one watches (None after `--detach`)."""
    started_at: str = ""
    version: int = STATE_VERSION

    def password(self) -> str:
        """The admin user's password, from the passwords file."""
        return json.loads(Path(self.password_file).read_text())[self.username]

    def pg_password(self) -> str:
        return Path(self.pg_password_file).read_text().strip()

    def running(self) -> dict[str, Proc]:
        return {name: proc for name, proc in self.processes.items() if proc.alive()}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DevState:
        data: dict[str, Any] = json.loads(text)
        data["processes"] = {name: Proc(**proc) for name, proc in data["processes"].items()}
        if data.get("supervisor"):
            data["supervisor"] = Proc(**data["supervisor"])
        return cls(**data)


def read_state(layout: Layout) -> DevState | None:
    """The state file, or None when there is none (nothing was started, or `dev down` ran)."""
    try:
        return DevState.from_json(layout.state.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as error:
        raise DevEnvError(f"{layout.state} is not a state file this version reads: {error}; "
                          "stop what runs by hand and delete it") from None  # fmt: skip


def write_state(layout: Layout, state: DevState) -> None:
    """Written whole to a temporary file, then renamed: a reader never sees half of it."""
    partial = layout.state.with_suffix(".json.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(state.to_json())
    partial.replace(layout.state)


@contextlib.contextmanager
def locked(layout: Layout) -> Iterator[None]:
    """Held while one `dev up` starts or one `dev down` stops; a second one at the same time
    is refused rather than made to wait."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(
                f"another `dev up` or `dev down` is starting or stopping the local Airflow of "
                f"{layout.root} right now"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
