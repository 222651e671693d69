"""Reading a pipe in S3-part-sized pieces with bounded memory.

`PartReader` fills a fixed set of reusable buffers (two by default) from a pipe on a
background thread, hashing and counting as it goes. With two buffers pg_dump keeps writing
into one while the other is being uploaded, so the upload overlaps the dump instead of
stalling it, and memory stays at `buffers * part_size` whatever the database size.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections.abc import Iterator
from typing import IO

_EOF = object()


def fill(source: IO[bytes], buffer: memoryview) -> int:
    """Read from `source` until `buffer` is full or the stream ends; the bytes read."""
    filled = 0
    while filled < len(buffer):
        count = source.readinto(buffer[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    return filled


class PartReader:
    """Parts of `source`, each at most `part_size` bytes, read ahead on a thread.

    Iterate `parts()`; a yielded view is valid until the next one is asked for (its
    buffer is then refilled). `sha256` and `size` cover everything read so far.
    """

    def __init__(self, source: IO[bytes], part_size: int, buffers: int = 2) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._source = source
        self._free: queue.Queue[bytearray | None] = queue.Queue()
        self._filled: queue.Queue[object] = queue.Queue()
        for _ in range(buffers):
            self._free.put(bytearray(part_size))
        self._thread = threading.Thread(target=self._run, name="part-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (buffer := self._free.get()) is not None:
                count = fill(self._source, memoryview(buffer))
                if count:
                    self.sha256.update(memoryview(buffer)[:count])
                    self.size += count
                    self._filled.put((buffer, count))
                if count < len(buffer):
                    break
        except BaseException as error:  # handed to the consumer, which raises it
            self._filled.put(error)
        finally:
            self._filled.put(_EOF)

    def parts(self) -> Iterator[memoryview]:
        """Yield the parts in order; raises what the reading thread hit."""
        previous: bytearray | None = None
        while True:
            if previous is not None:
                self._free.put(previous)
                previous = None
            item = self._filled.get()
            if item is _EOF:
                return
            if isinstance(item, BaseException):
                raise item
            previous, count = item  # type: ignore[misc]
            yield memoryview(previous)[:count]

    def close(self) -> None:
        """Stop reading ahead (the source must be at EOF or its writer gone)."""
        self._free.put(None)
        self._thread.join(timeout=30)


class ViewReader(io.RawIOBase):
    """A seekable file over a memoryview, so botocore can send (and on retry resend) a part
    without copying it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._view[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, min(len(self._view), base[whence] + offset))
        return self._position

    def tell(self) -> int:
        return self._position

    def __len__(self) -> int:
        return len(self._view)
