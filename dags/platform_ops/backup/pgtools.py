"""The PostgreSQL client programs (pg_dump, pg_restore, psql) as child processes.

Each child gets the connection as a password-free `--dbname` conninfo and the password in
its environment (see `conninfo.py`); its stderr is read on a thread and only the last
`STDERR_TAIL_BYTES` are kept, so a chatty or failing child cannot grow our memory.

A client that is missing, or too old for the server (pg_dump refuses servers of a newer major
version) or for the archive (pg_restore refuses archives of a newer pg_dump), fails with a
message that says so, names the program and the version it reports, and says where to look:
on MWAA the startup script (`images/mwaa/startup.sh`) installs the client and logs why it
could not; elsewhere `--pg-bin-dir` / `AIRFLOW_PLATFORM_PG_BIN_DIR` choose it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO

from platform_ops.backup.conninfo import ConnInfo
from platform_ops.backup.errors import BackupError

STDERR_TAIL_BYTES = 16 * 1024
_READ = 4096
# Linux's F_SETPIPE_SZ and the size asked for a child's stdout pipe: 1 MiB (the unprivileged
# maximum by default) instead of 64 KiB, so pg_dump keeps writing through short stalls of
# the reader (a busy core, an upload being handed over) instead of blocking.
_F_SETPIPE_SZ = 1031
PIPE_BYTES = 1024 * 1024


CLIENT_ADVICE = (
    "On MWAA the environment's startup script (images/mwaa/startup.sh) installs the client "
    "pinned by POSTGRES_CLIENT_MAJOR in versions.env when a worker starts, and its 'startup:' "
    "lines in the environment's worker log group say whether that worked and what to fix; "
    "elsewhere install a PostgreSQL client of that major or newer, or point --pg-bin-dir / "
    "AIRFLOW_PLATFORM_PG_BIN_DIR at its bin directory"
)
"""What to do about a missing or too-old client, for the end of a message."""

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\S+)")
# pg_dump's refusal of a newer server: "server version: 17.2; pg_dump version: 15.4 (...)",
# after "aborting because of server version mismatch" (one line or two, by version).
_SERVER_MISMATCH = re.compile(r"server version: (\S+); pg_dump version: (\S+)")
# pg_restore's refusal of an archive written by a newer pg_dump.
_ARCHIVE_TOO_NEW = re.compile(r"unsupported version \(([\d.]+)\) in file header")


def find_tool(name: str, bin_dir: Path | None) -> str:
    """Path of a client program: in `bin_dir` when given, else on PATH.

    The client's major version must be at least the server's (pg_dump refuses newer servers
    with "server version mismatch"); `ClientProcess.failure` explains that refusal.
    """
    if bin_dir is not None:
        candidate = bin_dir / name
        if not candidate.is_file():
            raise BackupError(
                f"{name} not found in {bin_dir} (the --pg-bin-dir / AIRFLOW_PLATFORM_PG_BIN_DIR "
                "directory): point it at the bin directory of a PostgreSQL client whose major "
                "version is at least the server's"
            )
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH ({os.environ.get('PATH', '')}): the PostgreSQL client "
            f"is not installed where this runs. {CLIENT_ADVICE}"
        )
    return found


def client_version(tool: str) -> str | None:
    """The version `tool --version` reports ("17.6"); None when it cannot say."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed program, list argv, no shell
            [tool, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(result.stdout)
    return found[1] if found and result.returncode == 0 else None


def explain_version_failure(tool: str, stderr: str) -> str | None:
    """A failure of `tool` that comes from its version, said plainly: pg_dump older than the
    server, or pg_restore older than the archive's pg_dump. None for any other failure."""
    name = Path(tool).name
    mismatch = _SERVER_MISMATCH.search(stderr)
    if mismatch or "server version mismatch" in stderr:
        if mismatch:
            version, server = mismatch[2], f"the server (version {mismatch[1]})"
            needed = f"pg_dump {_major(mismatch[1])} or newer"
        else:
            version, server = client_version(tool) or "unknown", "the server"
            needed = "a pg_dump at least as new as the server"
        return (
            f"{tool} is version {version}, older than {server}: {name} cannot dump a server "
            f"of a newer major version, so backups fail until {needed} is used. {CLIENT_ADVICE}"
        )
    too_new = _ARCHIVE_TOO_NEW.search(stderr)
    if too_new:
        version = client_version(tool) or "unknown"
        return (
            f"{tool} is version {version}, older than the pg_dump that wrote the archive "
            f"(archive format {too_new[1]}, which {name} {version} cannot read): use a "
            f"{name} of at least that pg_dump's major version. {CLIENT_ADVICE}"
        )
    return None


def _major(version: str) -> str:
    digits = re.match(r"\d+", version)
    return digits[0] if digits else version


class ClientProcess:
    """One run of a client program with its stderr tail kept for error messages; `conn`
    None runs it without a connection (`pg_restore --list`)."""

    def __init__(
        self,
        tool: str,
        args: list[str],
        conn: ConnInfo | None,
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> None:
        self.tool = tool
        self.name = Path(tool).name
        self._conn = conn
        connection = [] if conn is None else ["--no-password", f"--dbname={conn.libpq_argument()}"]
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self.process = subprocess.Popen(  # noqa: S603 - fixed program, list argv, no shell
            [tool, *args, *connection],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=None if conn is None else conn.child_env(),
            bufsize=0,
        )
        if stdout == subprocess.PIPE and self.process.stdout is not None:
            _enlarge_pipe(self.process.stdout.fileno())
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        while chunk := stream.read(_READ):
            self._tail.append(chunk)
            self._tail_bytes += len(chunk)
            while self._tail_bytes - len(self._tail[0]) >= STDERR_TAIL_BYTES:
                self._tail_bytes -= len(self._tail.popleft())

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child and for its stderr to be read to the end; the exit code."""
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """Stop the child now (a no-op if it has exited)."""
        if self.process.poll() is None:
            self.process.kill()
        self.wait(timeout=30)

    def stderr(self) -> str:
        """The kept tail of stderr, password masked, whitespace trimmed."""
        text = b"".join(self._tail)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")
        return (self._conn.redact(text) if self._conn else text).strip()

    def failure(self) -> str:
        """How the child ended, for a message: exit code or signal, and its stderr; first, a
        client too old for the server or the archive is said as such."""
        code = self.process.returncode
        if code is not None and code < 0:
            how = f"{self.name} was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"{self.name} exited with code {code}"
        detail = self.stderr()
        ended = f"{how}: {detail}" if detail else how
        explained = explain_version_failure(self.tool, detail)
        return f"{explained} ({ended})" if explained else ended


def _enlarge_pipe(fd: int) -> None:
    """Ask for a `PIPE_BYTES` pipe; elsewhere than Linux, or when refused, keep the default."""
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
