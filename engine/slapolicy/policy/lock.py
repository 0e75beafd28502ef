"""versions.lock: the sha256 of every published version, so that an edit to one is caught."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..errors import PolicyError
from ..files import read_limited
from .model import LOCK_FILE
from .load import MAX_POLICY_BYTES


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
    """Replace versions.lock whole: written beside it and renamed, so a crash never leaves half a lock."""
    directory = Path(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".versions.lock.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(sorted(lock.items())), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / LOCK_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def record_published(directory) -> list[str]:
    """Add published versions missing from the lock, refusing (and writing nothing) while
    `validate` reports any error in the family other than "not yet recorded"."""
    from .model import PolicyDirectory

    with family_lock(directory.path):
        directory = PolicyDirectory(directory.path)  # read again under the lock
        refused = [d for d in directory.diagnostics if d.severity == "error" and d.code != "unlocked"]
        if refused:
            raise PolicyError(refused)
        lock = directory.read_lock()
        added = []
        for file in sorted(directory.path.glob("*.yaml")):
            if file.name not in lock:
                lock[file.name] = hashlib.sha256(read_limited(file, "policy file", MAX_POLICY_BYTES)).hexdigest()
                added.append(file.name)
        if added:
            write_lock(directory.path, lock)
        return added
