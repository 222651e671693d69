"""The PostgreSQL client programs (pg_dump, pg_restore, psql) as child processes.

Each child gets the connection as a password-free `--dbname` conninfo and the password in
its environment (see `conninfo.py`); its stderr is read on a thread and only the last
`STDERR_TAIL_BYTES` are kept, so a chatty or failing child cannot grow our memory.
"""

from __future__ import annotations

import contextlib
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


def find_tool(name: str, bin_dir: Path | None) -> str:
    """Path of a client program: in `bin_dir` when given, else on PATH.

    The client's major version must be at least the server's (pg_dump refuses older
    servers' newer peers with "server version mismatch").
    """
    if bin_dir is not None:
        candidate = bin_dir / name
        if not candidate.is_file():
            raise BackupError(f"{name} not found in {bin_dir} (from --pg-bin-dir)")
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client (major version at least "
            "the server's) or point --pg-bin-dir / AIRFLOW_PLATFORM_PG_BIN_DIR at its bin dir"
        )
    return found


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
        """How the child ended, for a message: exit code or signal, and its stderr."""
        code = self.process.returncode
        if code is not None and code < 0:
            how = f"{self.name} was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"{self.name} exited with code {code}"
        detail = self.stderr()
        return f"{how}: {detail}" if detail else how


def _enlarge_pipe(fd: int) -> None:
    """Ask for a `PIPE_BYTES` pipe; elsewhere than Linux, or when refused, keep the default."""
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
