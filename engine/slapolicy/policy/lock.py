"""versions.lock: the sha256 of every published version, so that an edit to one is caught."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from pathlib import Path

from ..files import sync_directory

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


def create_beside(directory: Path, name: str) -> tuple[int, str]:
    """A new temporary file in ``directory``, to be renamed or linked to ``name`` once written whole: (descriptor,
    path). Created as any new file is, with the mode the umask gives (0644 usually): ``tempfile.mkstemp`` would
    make it 0600, and a published version or lock readable by its publisher alone fails every other user's
    `slapolicy serve` or `evaluate` with "permission denied"."""
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}")  # O_EXCL: never an existing file
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp


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
