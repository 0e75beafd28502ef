"""versions.lock: the sha256 of every published version, so that an edit to one is caught."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from ..files import create_beside, sync_directory

LOCK_FILE = "versions.lock"


@contextlib.contextmanager
def family_lock(path, *, shared: bool = False):
    """Hold an exclusive lock on a family directory while its versions or lock are written
    (``shared=True``: while they are read, so that a reader never sees half a publication).

    ``flock`` on the directory itself: no extra file in the family, released when the
    process dies, and exclusive between threads too (each call opens its own descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_lock(directory, lock: dict) -> None:
    """Replace versions.lock whole: written beside it and renamed, so a crash never leaves half a lock; then the
    directory is synced, so a power loss cannot bring the old lock back (nor lose a version linked in before)."""
    directory = Path(directory)
    tmp = None
    try:
        fd, tmp = create_beside(directory, LOCK_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(sorted(lock.items())), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / LOCK_FILE)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    sync_directory(directory)
