"""A writer thread for the consistency test: transfers and paired inserts between two
tables, each in one transaction, so `sum(a) + sum(b)` and `count(a) = count(b)` hold in
every committed state."""

from __future__ import annotations

import random
import threading
from types import TracebackType

from tests.integration.servers import PgServer


class Transfers:
    ACCOUNTS = 20_000
    TOTAL = 1_000_000 * ACCOUNTS

    def __init__(self, pg: PgServer, database: str) -> None:
        self._pg = pg
        self._database = database
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self.committed = 0
        self.error: BaseException | None = None
        with pg.connect(database) as conn:
            for table in ("ledger_a", "ledger_b"):
                conn.execute(f"create table {table} (id int primary key, balance bigint, pad text)")
                conn.execute(
                    f"insert into {table} select g, 500000, repeat(md5(g::text), 8)"
                    f" from generate_series(1, {self.ACCOUNTS}) g"
                )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(1)
        next_id = self.ACCOUNTS + 1
        try:
            with self._pg.connect(self._database) as conn:
                while not self._stop.is_set():
                    amount, row = rng.randint(1, 1000), rng.randint(1, self.ACCOUNTS)
                    with conn.transaction():
                        conn.execute("update ledger_a set balance = balance - %s where id = %s",
                                     (amount, row))  # fmt: skip
                        conn.execute("update ledger_b set balance = balance + %s where id = %s",
                                     (amount, rng.randint(1, self.ACCOUNTS)))  # fmt: skip
                        conn.execute("insert into ledger_a values (%s, %s, 'x')", (next_id, amount))
                        conn.execute(
                            "insert into ledger_b values (%s, %s, 'x')", (next_id, -amount)
                        )
                    next_id += 1
                    with self._progress:
                        self.committed += 1
                        self._progress.notify_all()
        except BaseException as error:
            self.error = error
            with self._progress:
                self._progress.notify_all()

    def wait_for(self, commits: int, timeout: float = 60) -> None:
        with self._progress:
            self._progress.wait_for(lambda: self.committed >= commits or self.error, timeout)
        assert self.error is None, f"writer failed: {self.error}"
        assert self.committed >= commits, f"only {self.committed} commits in {timeout}s"

    def __enter__(self) -> Transfers:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(30)
